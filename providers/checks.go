package providers

import (
	"fmt"
	"strings"
	"time"
)

// The checks config variables share, for Param.Check. Their messages name
// the variable and the fix, and never echo the value, which may be secret.

// NonEmpty refuses a string that is empty or only white space.
func NonEmpty(name string) func(any) error {
	return func(v any) error {
		if s, _ := v.(string); strings.TrimSpace(s) == "" {
			return fmt.Errorf("%s must not be empty", name)
		}
		return nil
	}
}

// Positive refuses a duration that is zero or negative.
func Positive(name string) func(any) error {
	return func(v any) error {
		if d, _ := v.(time.Duration); d <= 0 {
			return fmt.Errorf("%s must be positive, such as 30s", name)
		}
		return nil
	}
}
