package codec

// SetWalkedHook makes Gob's Decode call f once it has walked a message
// (checkGob) and before gob decodes it (nil: none).
func SetWalkedHook(f func()) { testHookWalked = f }

// SetBoolsCheckedHook makes Binary's Decode call f once it has checked
// the bools of a message, before it copies it (nil: none).
func SetBoolsCheckedHook(f func()) { testHookBoolsChecked = f }

// SetDescFoundHook makes Gob's Decode call f once it has found the warm
// decoders of a message's description, before it copies the message.
func SetDescFoundHook(f func()) { testHookDescFound = f }
