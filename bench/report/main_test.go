package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAndTable(t *testing.T) {
	log := `noise
BENCH name=a value=12.5 unit=ms goal=<=10 floor=5 label="a thing, p50" floor_label="bare = x"
BENCH name=b value=0 unit=count goal==0 label="errors"
BENCH name=c value= unit=ms label="not measured"
BENCH name=d value=0.62 unit=x goal=>=0.5
BENCH name=e value=7 unit=ms
BENCH_FAILED name=hot rc=3
`
	figs, failed := parse("x", strings.NewReader(log))
	require.Len(t, figs, 4)
	assert.Equal(t, figure{bench: "x", name: "a", unit: "ms", goal: "<=10", label: "a thing, p50", flabel: "bare = x", value: 12.5, floor: 5, hasFloor: true}, figs[0])
	assert.Equal(t, "=0", figs[1].goal)
	assert.Equal(t, []string{"hot (exit 3)"}, failed)
	assert.Equal(t, "NOT MET", verdict(figs[0].goal, figs[0].value))
	assert.Equal(t, "met", verdict(figs[1].goal, figs[1].value))
	assert.Equal(t, "met", verdict(figs[2].goal, figs[2].value))
	assert.Equal(t, "—", verdict("", 1))
	var b bytes.Buffer
	print(&b, figs, failed)
	out := b.String()
	assert.Contains(t, out, "| a thing, p50 | ≤ 10 ms | 12.5 ms | 5.00 ms (bare = x) | 2.50× | NOT MET |")
	assert.Contains(t, out, "| bench hot (exit 3) did not finish |")
	assert.Contains(t, out, "4 figures: 2 goals met, 1 not met, 1 informational; 1 benches failed")
}
