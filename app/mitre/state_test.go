package mitre

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		revoked, deprecated, removed bool
		want                         string
	}{
		{false, false, false, "active"},
		{true, false, false, "revoked"},
		{true, true, true, "revoked"},
		{false, true, false, "deprecated"},
		{false, true, true, "deprecated"},
		{false, false, true, "removed"},
	} {
		assert.Equal(t, tc.want, State(tc.revoked, tc.deprecated, tc.removed), "%+v", tc)
	}
}
