//go:build postgres

package db_test

import (
	"testing"

	"github.com/purplebook/purplebook/app/db/dbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCatalogEquivalence migrates SQLite and PostgreSQL to head and demands
// the same tables, columns (name, nullability, order), primary keys, foreign
// key pairs with their ON DELETE actions, CHECK and UNIQUE constraint names,
// index names and normalised partial predicates. Adding a column to one tree
// only fails here.
func TestCatalogEquivalence(t *testing.T) {
	t.Parallel()
	s := catalog(t, dbtest.NewSQLite(t))
	p := catalog(t, dbtest.NewPostgres(t))

	require.Equal(t, s.TableNames(), p.TableNames(), "tables")
	for _, name := range s.TableNames() {
		st, pt := s.Tables[name], p.Tables[name]
		assert.Equal(t, st.Columns, pt.Columns, "columns of %s", name)
		assert.Equal(t, st.PrimaryKey, pt.PrimaryKey, "primary key name of %s", name)
		assert.Equal(t, st.PKColumns, pt.PKColumns, "primary key columns of %s", name)
		assert.Equal(t, st.ForeignKeys, pt.ForeignKeys, "foreign keys of %s", name)
		assert.Equal(t, st.Checks, pt.Checks, "check constraints of %s", name)
		assert.Equal(t, st.Uniques, pt.Uniques, "unique constraints of %s", name)
	}
	assert.Equal(t, s.Indexes, p.Indexes, "indexes")
}
