package memcopy

const (
	NTFrom     = ntFrom
	Piece      = piece
	ChooseFrom = chooseFrom
)

var (
	L2Size    = l2Size
	ParseSize = parseSize
	CachedMax = func() int { return cachedMax() }
)

// SetCachedMax makes n the longest copy kept in the caches until the
// returned func restores the machine's.
func SetCachedMax(n int) (restore func()) {
	old := cachedMax
	cachedMax = func() int { return n }
	return func() { cachedMax = old }
}

const (
	ViaCache    = viaCache
	AroundCache = aroundCache
	TryFirst    = tryFirst
	TryMax      = tryMax
)

// Choose and Took are the chooser of copies of n bytes.
func Choose(n int) (way int, try bool)       { return chooserFor(n).choose() }
func Took(way int, try bool, n int, d int64) { chooserFor(n).took(way, try, n, d) }

// ForceWay sends every chosen copy the given way until the returned func
// restores the choosers.
func ForceWay(way int) (restore func()) {
	forceWay = way
	return func() { forceWay = -1 }
}

// ResetChooser forgets what the choosers learnt.
func ResetChooser() {
	for i := range choosers {
		c := &choosers[i]
		for i := range c.cost {
			c.cost[i].Store(0)
		}
		c.count.Store(0)
		c.next.Store(0)
		c.gap.Store(0)
	}
}

// Costs returns what the chooser of copies of n bytes learnt a MiB costs
// each way, in ns.
func Costs(n int) (via, around int64) {
	c := chooserFor(n)
	return c.cost[viaCache].Load(), c.cost[aroundCache].Load()
}
