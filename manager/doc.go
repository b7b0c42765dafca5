// Package manager is Python's multiprocessing Manager for Go processes on
// Linux: a server holding shared dicts, lists, namespaces and objects of
// registered types, which every process reaches through proxies, over
// shared memory.
//
//	m, err := manager.Start(ctx)                      // Manager(): a server process
//	defer m.Shutdown()
//	d, err := manager.NewDict[string, int](ctx, m)    // manager.dict()
//	err = d.Set(ctx, "a", 1)                          // d["a"] = 1
//	n, err := d.Add(ctx, "hits", 1)                   // d["hits"] += 1, atomically
//	p, err := worker.Start(ctx, d)                    // the proxy travels as a handle
//
// # Server and clients
//
// Start re-executes the program as the server (package process: main must
// call process.Main); New runs the server as goroutines of this process.
// Either way the server listens by name (pipe.Listen), and each client
// goroutine with a call in flight has a pipe of its own to it, dialed on
// first use and kept for the next call: requests and replies cross shared
// memory, never a socket. Calls from the process of a New server skip the
// pipe. The server stops with Shutdown, or when the process that started it
// dies; a server process ignores SIGINT, as Python's does, so that Ctrl-C,
// which a terminal sends to the whole process group, reaches its creator
// alone.
//
// A Manager and every proxy (Dict, List, Namespace, Object) are handles:
// gob-encoded among process.Start's arguments, they arrive in the worker
// connected to the same server. Proxies are safe for concurrent use. Objects
// live until the server stops.
//
// # Atomicity and death
//
// Each call is one request and one reply, applied by the server whole under
// the object's lock: Add, CompareAndSwap, SetIfAbsent, SetDefault, Update
// (a registered function run in the server), SetMany and GetMany are atomic,
// where Python's d[k] += 1 through a proxy is a get and a set that other
// processes interleave with. A client killed mid-request either sent the
// whole request, which the server applies, or did not, and the server never
// sees a part of it (a pipe record is committed whole). A server that dies
// makes every waiting call return ErrPeerDead at once (its death is checked
// every 50 ms), and later calls too. A call whose ctx is done before it
// starts sends nothing; one whose ctx ends while it waits for the reply
// returns ctx's error, and its request may or may not have been applied, as
// with any remote call.
//
// # Values
//
// Dict keys are ordered types (cmp.Ordered), kept in their order in a
// B-tree (github.com/tidwall/btree): All, Keys, Values, Range and From
// iterate in key order, in pages of one round trip each. Values of integer
// and floating-point types travel as 8-byte numbers the server can add to;
// other values through codec.Default (strings and bytes as they are,
// fixed-size types as their bytes, the rest with encoding/gob, proxies as
// handles). Values compare by their encodings (CompareAndSwap, List.Index).
//
// A value read through a proxy is a copy: changing a slice read from a Dict
// or Namespace changes nothing in the server, as in Python, where
// ns.items.append(x) is silently lost. Write it back, change it in the
// server in one step with Update, or store a List proxy in the container.
//
// # Limits
//
// A request or reply is at most MaxMessage (64 MiB; ErrTooLarge past it):
// one that fits the channel's ring (ChannelSize) travels in it, a larger
// one goes out of line through the pipe's arena. SetMany, GetMany and
// Extend are one message each; iterations are paged.
// The Transport and ServerConn interfaces are what a transport between hosts
// replaces (RegisterDialer for its clients; for a server process, Start's
// WithServer option and RegisterServer; Connect reaches such a server).
package manager
