module github.com/shmkit/shmkit

go 1.26.0

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	github.com/edsrzf/mmap-go v1.2.0
	golang.org/x/sys v0.49.0
)

require github.com/tidwall/btree v1.8.2
