package manager

import (
	"context"
	"iter"
)

// Namespace is a proxy for a namespace in a manager's server, Python's
// manager.Namespace(): named attributes of any type the value codec
// carries. Go has no dynamic attributes, so an attribute is reached through
// a typed Attr: manager.AttrOf[int](ns, "value"). A Namespace travels to
// workers among process.Start's arguments and reconnects there; it is safe
// for concurrent use.
//
// A value read from an attribute is a copy: appending to a slice read from
// ns changes nothing in the server (Python's "mutable value not
// propagated"). Set it back, change it in the server in one step with
// Attr.Update, or keep a List in the attribute: proxies are values too.
type Namespace struct {
	d Dict[string, struct{}] // the attributes by name; values of any type
}

// NewNamespace makes an empty Namespace in m's server.
func NewNamespace(ctx context.Context, m *Manager) (*Namespace, error) {
	r, err := m.create(ctx, kindDict, "")
	if err != nil {
		return nil, err
	}
	return &Namespace{d: Dict[string, struct{}]{ref: r}}, nil
}

// GobEncode encodes a handle to the Namespace.
func (ns *Namespace) GobEncode() ([]byte, error) { return ns.d.encode() }

// GobDecode connects to the Namespace a handle names.
func (ns *Namespace) GobDecode(b []byte) error { return ns.d.decode(b) }

// Names returns an iterator over the attributes' names, in order.
func (ns *Namespace) Names(ctx context.Context) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for it, err := range ns.d.scanRaw(ctx) {
			if !yield(it, err) {
				return
			}
		}
	}
}

// Delete removes the attribute name and reports whether it was set
// (Python's del ns.name).
func (ns *Namespace) Delete(ctx context.Context, name string) (bool, error) {
	return ns.d.Delete(ctx, name)
}

// Attr is a typed attribute of a Namespace: AttrOf[int](ns, "count").
// Each method is one round trip, applied whole in the server. Reading an
// attribute set as another type gives ErrType.
type Attr[V any] struct {
	d    *Dict[string, V]
	name string
}

// AttrOf returns the attribute name of ns, of type V. It makes no round
// trip: the attribute need not be set yet.
func AttrOf[V any](ns *Namespace, name string) Attr[V] {
	return Attr[V]{d: &Dict[string, V]{ref: ns.d.ref}, name: name}
}

// Get returns the attribute's value; ok is false when it is not set
// (Python's AttributeError).
func (a Attr[V]) Get(ctx context.Context) (v V, ok bool, err error) { return a.d.Get(ctx, a.name) }

// Set sets the attribute (Python's ns.name = v).
func (a Attr[V]) Set(ctx context.Context, v V) error { return a.d.Set(ctx, a.name, v) }

// Add adds delta to a numeric attribute (unset counts as zero) and returns
// the sum, atomically (see Dict.Add).
func (a Attr[V]) Add(ctx context.Context, delta V) (V, error) { return a.d.Add(ctx, a.name, delta) }

// CompareAndSwap sets the attribute to nv if it is old (see
// Dict.CompareAndSwap).
func (a Attr[V]) CompareAndSwap(ctx context.Context, old, nv V) (bool, error) {
	return a.d.CompareAndSwap(ctx, a.name, old, nv)
}

// Update runs a registered update function on the attribute in the server
// and stores and returns its result (see RegisterUpdate).
func (a Attr[V]) Update(ctx context.Context, u Update[V]) (V, error) {
	return a.d.Update(ctx, a.name, u)
}
