package manager

import (
	"context"
	"fmt"
	"sync"

	"github.com/shmkit/shmkit/codec"
)

// The registries of user types, their methods and update functions. They
// are filled at package initialisation, in the client and in the server
// alike (the server is the same program, re-executed), so that a name
// finds the same function on both sides.
var registry struct {
	mu      sync.RWMutex
	types   map[string]*userType
	updates map[string]updateFn
}

// updateFn is a registered update function on encoded values.
type updateFn func(old []byte, ok bool, arg []byte) ([]byte, error)

// userType is a registered type: how to make one, and its methods on
// encoded arguments.
type userType struct {
	name    string
	new     func() any
	methods map[string]func(obj any, arg []byte) ([]byte, error)
}

func lookupType(name string) *userType {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	return registry.types[name]
}

func lookupUpdate(name string) updateFn {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	return registry.updates[name]
}

func callMethod(obj *object, o op, r *rbuf, w *wbuf) error {
	if o != opCall {
		return badRequest{"not a method call"}
	}
	name, arg := string(r.bytes()), r.bytes()
	if r.err != nil {
		return nil
	}
	registry.mu.RLock()
	m := obj.typ.methods[name]
	registry.mu.RUnlock()
	if m == nil {
		return &UpdateError{Name: obj.typ.name + "." + name, Msg: ErrNotRegistered.Error()}
	}
	res, err := guard(func() ([]byte, error) { return m(obj.user, arg) })
	if err != nil {
		return &UpdateError{Name: obj.typ.name + "." + name, Msg: err.Error()}
	}
	w.bytes(res)
	return nil
}

// guard runs a user's function in the server: a panic becomes its error,
// as Python's server sends a method's exception back, and the server and
// the object's lock survive it.
func guard(f func() ([]byte, error)) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f()
}

// Type is a user type that managers serve (Python's BaseManager.register):
// its values live in the server, and its registered methods run there, one
// call at a time per object.
type Type[T any] struct {
	name string
}

// RegisterType registers a type served by managers under name, with newT
// making each new object. Call it at package initialisation (a package-level
// var), as process.Register, so that the server process registers it too.
// Registering a name twice panics.
func RegisterType[T any](name string, newT func() *T) *Type[T] {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.types == nil {
		registry.types = make(map[string]*userType)
	}
	if _, dup := registry.types[name]; dup {
		panic("manager: type " + name + " registered twice")
	}
	registry.types[name] = &userType{
		name:    name,
		new:     func() any { return newT() },
		methods: make(map[string]func(any, []byte) ([]byte, error)),
	}
	return &Type[T]{name: name}
}

// New makes an object of the type in m's server and returns its proxy.
func (t *Type[T]) New(ctx context.Context, m *Manager) (*Object[T], error) {
	r, err := m.create(ctx, kindUser, t.name)
	if err != nil {
		return nil, err
	}
	return &Object[T]{ref: r}, nil
}

// Object is a proxy for an object of a registered type in a manager's
// server; Method.Call runs a method on it there. Like every proxy it is a
// handle: it travels to workers among process.Start's arguments and
// reconnects there. It is safe for concurrent use.
type Object[T any] struct {
	ref
}

// Method is a registered method of a served type.
type Method[T, A, R any] struct {
	name string
	ac   codec.Codec[A]
	rc   codec.Codec[R]
}

// RegisterMethod registers fn as the method name of t, run in the server
// with the object's lock held: one call at a time per object, applied whole.
// A and R travel through codec.Default. Call it at package initialisation.
func RegisterMethod[T, A, R any](t *Type[T], name string, fn func(obj *T, arg A) (R, error)) *Method[T, A, R] {
	m := &Method[T, A, R]{name: name, ac: codec.Default[A](), rc: codec.Default[R]()}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	ut := registry.types[t.name]
	if _, dup := ut.methods[name]; dup {
		panic("manager: method " + t.name + "." + name + " registered twice")
	}
	ut.methods[name] = func(obj any, arg []byte) ([]byte, error) {
		var a A
		if err := m.ac.Decode(arg, &a); err != nil {
			return nil, err
		}
		r, err := fn(obj.(*T), a)
		if err != nil {
			return nil, err
		}
		return m.rc.Append(nil, &r)
	}
	return m
}

// Call runs the method on o in the server with arg and returns its result,
// in one round trip. An error the method returns comes back as an
// *UpdateError.
func (m *Method[T, A, R]) Call(ctx context.Context, o *Object[T], arg A) (R, error) {
	var res R
	c, w, err := o.begin(opCall)
	if err != nil {
		return res, err
	}
	w.str(m.name)
	at := w.open()
	if w.b, err = m.ac.Append(w.b, &arg); err != nil {
		c.release(w)
		return res, err
	}
	w.b = fixLength(w.b, at)
	err = c.do(ctx, w, func(r *rbuf) error { return m.rc.Decode(r.bytes(), &res) })
	return res, err
}

// fixLength makes the bytes after the 5-byte length that open reserved
// at at-5 a length-prefixed byte string.
func fixLength(b []byte, at int) []byte {
	putUvarint5(b[at-5:], uint64(len(b)-at))
	return b
}

// UpdateFunc is a registered read-modify-write function, run in the server
// on a Dict entry, a List item or a Namespace attribute with the object's
// lock held: Python has no atomic way to do this through a proxy.
type UpdateFunc[V, A any] struct {
	name string
	ac   codec.Codec[A]
}

// RegisterUpdate registers fn under name. fn gets the current value (ok is
// false for an absent Dict key or attribute) and the caller's argument, and
// returns the value to store; an error stores nothing and comes back to the
// caller as an *UpdateError. Call it at package initialisation.
func RegisterUpdate[V, A any](name string, fn func(old V, ok bool, arg A) (V, error)) *UpdateFunc[V, A] {
	u := &UpdateFunc[V, A]{name: name, ac: codec.Default[A]()}
	vc := newValueCodec[V]()
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.updates == nil {
		registry.updates = make(map[string]updateFn)
	}
	if _, dup := registry.updates[name]; dup {
		panic("manager: update " + name + " registered twice")
	}
	registry.updates[name] = func(old []byte, ok bool, arg []byte) ([]byte, error) {
		var v V
		var a A
		if ok {
			if err := vc.decodeValue(old, &v); err != nil {
				return nil, err
			}
		}
		if err := u.ac.Decode(arg, &a); err != nil {
			return nil, err
		}
		nv, err := fn(v, ok, a)
		if err != nil {
			return nil, err
		}
		return vc.appendValue(nil, &nv)
	}
	return u
}

// With binds an argument to the function: the Update that Dict.Update,
// List.Update and Attr.Update take.
func (u *UpdateFunc[V, A]) With(arg A) Update[V] {
	ac := u.ac
	if ac == nil { // a zero UpdateFunc: its name is registered nowhere
		ac = codec.Default[A]()
	}
	b, err := ac.Append(nil, &arg)
	if err != nil {
		err = fmt.Errorf("manager: update %s: %w", u.name, err)
	}
	return Update[V]{name: u.name, arg: b, err: err}
}

// Update is a registered update function with its argument, ready to run in
// the server (see UpdateFunc.With).
type Update[V any] struct {
	name string
	arg  []byte
	err  error
}

func (u Update[V]) put(w *wbuf) {
	w.str(u.name)
	w.bytes(u.arg)
}

// GobEncode encodes a handle to the object: its server's address and the
// object's id. Among process.Start's arguments, it reaches the worker as a
// live proxy.
func (p Object[T]) GobEncode() ([]byte, error) { return p.encode() }

// GobDecode connects this process to the server a handle names.
func (p *Object[T]) GobDecode(b []byte) error { return p.decode(b) }
