package codec

// SetWalkedHook makes Gob's Decode call f once it has walked a message
// (checkGob) and before gob decodes it (nil: none).
func SetWalkedHook(f func()) { testHookWalked = f }
