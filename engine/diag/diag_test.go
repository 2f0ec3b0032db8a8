package diag

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestString(t *testing.T) {
	for _, c := range []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{File: "a.yaml", Line: 3, Col: 7, Message: "bad"}, "a.yaml:3:7: bad"},
		{Diagnostic{File: "a.yaml", Line: 3, Col: 7, Severity: SevWarning, Message: "meh"}, "a.yaml:3:7: warning: meh"},
		{Diagnostic{File: "a.yaml", Line: 3, Message: "no column"}, "a.yaml:3:1: no column"},
		{Diagnostic{File: "a.yaml", Message: "no line"}, "a.yaml: no line"},
		{Diagnostic{Message: "no file"}, "no file"},
	} {
		if got := c.d.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
}

func TestJoinAndFrom(t *testing.T) {
	warn := Diagnostic{File: "a", Line: 1, Col: 1, Severity: SevWarning, Message: "w"}
	bad := Diagnostic{File: "a", Line: 2, Col: 1, Message: "e"}
	if Join(nil) != nil || Join([]Diagnostic{warn}) != nil {
		t.Fatal("Join of no errors is not nil")
	}
	err := fmt.Errorf("loading: %w", Join([]Diagnostic{warn, bad}))
	if err.Error() != "loading: a:1:1: warning: w\na:2:1: e" {
		t.Fatalf("Error() = %q", err)
	}
	var de *Error
	if !errors.As(err, &de) || !reflect.DeepEqual(From(err), []Diagnostic{warn, bad}) {
		t.Fatalf("From = %v", From(err))
	}
	if got := From(fmt.Errorf("x: %w", bad)); !reflect.DeepEqual(got, []Diagnostic{bad}) {
		t.Fatalf("From(one) = %v", got)
	}
	if got := From(errors.New("plain")); len(got) != 1 || got[0].String() != "plain" || got[0].IsWarning() {
		t.Fatalf("From(plain) = %v", got)
	}
	if From(nil) != nil {
		t.Fatal("From(nil)")
	}
}

func TestSort(t *testing.T) {
	ds := []Diagnostic{{File: "b", Line: 1}, {File: "a", Line: 2, Col: 3}, {File: "a", Line: 2, Col: 1}, {File: "a", Line: 1}}
	Sort(ds)
	want := []Diagnostic{{File: "a", Line: 1}, {File: "a", Line: 2, Col: 1}, {File: "a", Line: 2, Col: 3}, {File: "b", Line: 1}}
	if !reflect.DeepEqual(ds, want) {
		t.Fatalf("Sort = %v", ds)
	}
}
