package spin

// SetAway sets a's count of waits in a row that ended just after a yield
// that gave the CPU away.
func (a *Adaptive) SetAway(n int32) { a.away.Store(n) }

// Away returns that count.
func (a *Adaptive) Away() int32 { return a.away.Load() }

// SetYield makes Spin yield through f, and returns what restores Yield.
func SetYield(f func()) (restore func()) {
	yield = f
	return func() { yield = Yield }
}
