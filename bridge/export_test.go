package bridge

import "github.com/shmkit/shmkit/shm"

// SetHook installs f at Send's and Receive's test points ("claimed",
// "committed", "published", "acked", "put") in this process.
func SetHook(f func(point string)) { hook = f }

// Journalled puts msg in the journal of queue name in seg (made with
// window entries of payload bytes if it is not there) as a Send killed
// before JetStream's acknowledgement leaves it, and returns the number of
// messages the journal holds.
func Journalled(seg *shm.Segment, name string, window, payload int, msg []byte) (int, error) {
	j, err := openJournal(seg, journalName(name), window, payload)
	if err != nil {
		return 0, err
	}
	defer j.release()
	if msg != nil {
		if err := j.record(len(j.held()), msg); err != nil {
			return 0, err
		}
	}
	return len(j.held()), nil
}
