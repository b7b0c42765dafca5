package manager_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/manager"
)

func ExampleStart() {
	ctx := context.Background()
	m, err := manager.Start(ctx) // a server process
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown()
	d, err := manager.NewDict[string, int](ctx, m)
	if err != nil {
		log.Fatal(err)
	}
	d.Set(ctx, "a", 1)
	v, ok, err := d.Get(ctx, "a")
	fmt.Println(v, ok, err)
	// Output: 1 true <nil>
}

func ExampleManager() {
	ctx := context.Background()
	m, err := manager.New() // the server as goroutines of this process
	if err != nil {
		log.Fatal(err)
	}
	defer m.Shutdown()
	ev, _ := m.Event() // native shmkit objects, for Python's shape
	ev.Set()
	fmt.Println(ev.IsSet(), m.Ping(ctx))
	// Output: true <nil>
}

func ExampleDict() {
	ctx := context.Background()
	m, _ := manager.New()
	defer m.Shutdown()
	d, _ := manager.NewDict[int, string](ctx, m)
	d.SetMany(ctx, map[int]string{3: "c", 1: "a", 2: "b", 10: "j"})
	for it, err := range d.Range(ctx, 2, 10) { // keys in order, 2 <= k < 10
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(it.Key, it.Value)
	}
	n, _ := d.Len(ctx)
	fmt.Println(n)
	// Output:
	// 2 b
	// 3 c
	// 4
}

func ExampleDict_Add() {
	ctx := context.Background()
	m, _ := manager.New()
	defer m.Shutdown()
	d, _ := manager.NewDict[string, int64](ctx, m)
	d.Add(ctx, "hits", 1) // d["hits"] += 1, in one atomic round trip
	n, _ := d.Add(ctx, "hits", 2)
	fmt.Println(n)
	// Output: 3
}

func ExampleList() {
	ctx := context.Background()
	m, _ := manager.New()
	defer m.Shutdown()
	l, _ := manager.NewList(ctx, m, "a", "c")
	l.Insert(ctx, 1, "b")
	last, _ := l.Pop(ctx, -1)
	items, _ := l.Slice(ctx, 0, 10)
	fmt.Println(last, items)
	// Output: c [a b]
}

func ExampleNamespace() {
	ctx := context.Background()
	m, _ := manager.New()
	defer m.Shutdown()
	ns, _ := manager.NewNamespace(ctx, m)
	manager.AttrOf[string](ns, "name").Set(ctx, "x")
	manager.AttrOf[int](ns, "value").Set(ctx, 7)
	for name, err := range ns.Names(ctx) {
		fmt.Println(name, err)
	}
	// Output:
	// name <nil>
	// value <nil>
}

func ExampleAttr() {
	ctx := context.Background()
	m, _ := manager.New()
	defer m.Shutdown()
	ns, _ := manager.NewNamespace(ctx, m)
	value := manager.AttrOf[int](ns, "value")
	value.Set(ctx, 1)
	swapped, _ := value.CompareAndSwap(ctx, 1, 2)
	v, ok, _ := value.Get(ctx)
	fmt.Println(swapped, v, ok)
	// Output: true 2 true
}

// appendItem appends to a slice in the server: registered at
// initialisation, so that the server process has it too.
var appendItem = manager.RegisterUpdate("example.append", func(old []string, _ bool, item string) ([]string, error) {
	return append(old, item), nil
})

func ExampleUpdateFunc() {
	ctx := context.Background()
	m, _ := manager.New()
	defer m.Shutdown()
	ns, _ := manager.NewNamespace(ctx, m)
	items := manager.AttrOf[[]string](ns, "items")
	items.Update(ctx, appendItem.With("a")) // ns.items.append("a"), propagated
	v, _ := items.Update(ctx, appendItem.With("b"))
	fmt.Println(v)
	// Output: [a b]
}

type account struct{ Balance int }

var (
	accountType = manager.RegisterType("example.account", func() *account { return &account{} })
	deposit     = manager.RegisterMethod(accountType, "deposit", func(a *account, n int) (int, error) {
		if n <= 0 {
			return a.Balance, errors.New("deposit must be positive")
		}
		a.Balance += n
		return a.Balance, nil
	})
)

func ExampleType() {
	ctx := context.Background()
	m, _ := manager.New()
	defer m.Shutdown()
	acct, _ := accountType.New(ctx, m) // an account in the server
	balance, _ := deposit.Call(ctx, acct, 10)
	fmt.Println(balance)
	// Output: 10
}

func ExampleMethod() {
	ctx := context.Background()
	m, _ := manager.New()
	defer m.Shutdown()
	acct, _ := accountType.New(ctx, m)
	_, err := deposit.Call(ctx, acct, -1)
	var ue *manager.UpdateError
	fmt.Println(errors.As(err, &ue), ue.Msg)
	// Output: true deposit must be positive
}

func ExampleObject() {
	ctx := context.Background()
	m, _ := manager.New()
	defer m.Shutdown()
	var acct *manager.Object[account]
	acct, _ = accountType.New(ctx, m) // a proxy: a handle process.Start carries
	deposit.Call(ctx, acct, 5)
	balance, _ := deposit.Call(ctx, acct, 5)
	fmt.Println(balance)
	// Output: 10
}

func ExampleUpdateError() {
	err := error(&manager.UpdateError{Name: "example.append", Msg: "full"})
	fmt.Println(err)
	// Output: manager: example.append: full
}
