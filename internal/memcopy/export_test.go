package memcopy

const (
	NTFrom = ntFrom
	Piece  = piece
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

var (
	Choose = choose
	Took   = took
)

// ForceWay sends every large copy the given way until the returned func
// restores the chooser.
func ForceWay(way int) (restore func()) {
	forceWay = way
	return func() { forceWay = -1 }
}

// ResetChooser forgets what the chooser learnt.
func ResetChooser() {
	for i := range chooser.cost {
		chooser.cost[i].Store(0)
	}
	chooser.count.Store(0)
	chooser.next.Store(0)
	chooser.gap.Store(0)
}

// Costs returns what the chooser learnt a MiB costs each way, in ns.
func Costs() (via, around int64) {
	return chooser.cost[viaCache].Load(), chooser.cost[aroundCache].Load()
}
