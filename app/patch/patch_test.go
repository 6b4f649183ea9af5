package patch_test

import (
	"encoding/json"
	"testing"

	"github.com/purplebook/purplebook/app/patch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type body struct {
	Name     patch.Field[string]   `json:"name,omitzero"`
	Disabled patch.Field[bool]     `json:"disabled,omitzero"`
	IDs      patch.Field[[]string] `json:"ids,omitzero"`
}

func TestThreeStates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in                 string
		set, null, has     bool
		name               string
		disabledSet, idSet bool
		ids                []string
	}{
		{in: `{}`},
		{in: `{"name":null}`, set: true, null: true},
		{in: `{"name":""}`, set: true, has: true},
		{in: `{"name":"Ada"}`, set: true, has: true, name: "Ada"},
		{in: `{"name":"Ada","disabled":false,"ids":[]}`, set: true, has: true, name: "Ada", disabledSet: true, idSet: true, ids: []string{}},
		{in: `{"ids":["a","b"]}`, idSet: true, ids: []string{"a", "b"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var b body
			require.NoError(t, json.Unmarshal([]byte(tc.in), &b))
			assert.Equal(t, tc.set, b.Name.Set)
			assert.Equal(t, tc.null, b.Name.Null)
			assert.Equal(t, tc.has, b.Name.HasValue())
			v, ok := b.Name.Get()
			assert.Equal(t, tc.has, ok)
			assert.Equal(t, tc.name, v)
			assert.Equal(t, tc.disabledSet, b.Disabled.Set)
			assert.False(t, b.Disabled.Value)
			assert.Equal(t, tc.idSet, b.IDs.Set)
			if tc.idSet {
				assert.Equal(t, tc.ids, b.IDs.Value)
			}
		})
	}
}

func TestTypeErrorsNameTheField(t *testing.T) {
	t.Parallel()
	for in, field := range map[string]string{
		`{"name":1}`:          "name",
		`{"disabled":"yes"}`:  "disabled",
		`{"ids":"a"}`:         "ids",
		`{"name":{"x":true}}`: "name",
	} {
		var b body
		err := json.Unmarshal([]byte(in), &b)
		var te *json.UnmarshalTypeError
		require.ErrorAs(t, err, &te, in)
		assert.Equal(t, field, te.Field, in)
	}
}

func TestReuseResetsState(t *testing.T) {
	t.Parallel()
	var f patch.Field[string]
	require.NoError(t, json.Unmarshal([]byte(`null`), &f))
	require.True(t, f.Null)
	require.NoError(t, json.Unmarshal([]byte(`"x"`), &f))
	assert.False(t, f.Null)
	assert.Equal(t, "x", f.Value)
}

func TestHelpersAndMarshal(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "d", patch.Absent[string]().Or("d"))
	assert.Equal(t, "d", patch.Null[string]().Or("d"))
	assert.Equal(t, "v", patch.Value("v").Or("d"))
	b, err := json.Marshal(body{Name: patch.Value("Ada"), Disabled: patch.Null[bool]()})
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"Ada","disabled":null}`, string(b))
	// A marshalled body reads back in the same states.
	var back body
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, patch.Value("Ada"), back.Name)
	assert.Equal(t, patch.Null[bool](), back.Disabled)
	assert.False(t, back.IDs.Set)
}
