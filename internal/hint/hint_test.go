package hint

import "testing"

func TestNearest(t *testing.T) {
	names := []string{"hunt_ip", "hunt_url", "post_data"}
	for in, want := range map[string]string{"hunt_ipp": "hunt_ip", "hunturl": "hunt_url", "zzz": "", "post": ""} {
		if got := Nearest(in, names); got != want {
			t.Errorf("Nearest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOrList(t *testing.T) {
	keys := []string{"b", "a"}
	for _, c := range []struct{ name, got, want string }{
		{"hint", OrList("hunt_ipp", []string{"hunt_ip"}, "x"), `; did you mean "hunt_ip"?`},
		{"list in order", OrList("zzzzzz", keys, "valid keys are"), "; valid keys are b, a"},
		{"sorted list", OrSorted("zzzzzz", keys, "valid keys are"), "; valid keys are a, b"},
		{"no candidates", OrList("zzzzzz", nil, "valid keys are"), ""},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
}
