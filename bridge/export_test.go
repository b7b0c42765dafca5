package bridge

// SetHook installs f at Send's and Receive's test points ("claimed",
// "committed", "published", "acked", "put") in this process.
func SetHook(f func(point string)) { hook = f }
