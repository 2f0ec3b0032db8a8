package threatq

import (
	"testing"

	"github.com/goshawk/goshawk/providers/providertest"
)

func TestConformance(t *testing.T) { providertest.Check(t, Provider()) }
