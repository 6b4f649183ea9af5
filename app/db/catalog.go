package db

import (
	"regexp"
	"sort"
	"strings"
)

// Catalog is a dialect-neutral description of the schema, used by the schema
// tests (both trees must produce the same one), by diag and by Reset.
type Catalog struct {
	Tables  map[string]*Table
	Indexes map[string]Index // explicit CREATE INDEX only, by name
}

// Table describes one table.
type Table struct {
	Name        string
	Columns     []Column
	PrimaryKey  string // constraint name
	PKColumns   []string
	ForeignKeys []ForeignKey
	Checks      []string // constraint names
	Uniques     []string // constraint names
}

// Column is a column name, its nullability and its logical type (Type*
// constants): the same on every engine, so the schema tests compare it and
// backups write values by it.
type Column struct {
	Name     string
	Nullable bool
	Type     string
}

// ForeignKey is one column → referenced column pair.
type ForeignKey struct {
	Column, RefTable, RefColumn string
	OnDelete                    string
}

// Index is a CREATE INDEX with its normalised partial predicate ("" if none).
type Index struct {
	Table     string
	Predicate string
	Unique    bool
}

func newCatalog() *Catalog {
	return &Catalog{Tables: map[string]*Table{}, Indexes: map[string]Index{}}
}

func (c *Catalog) table(name string) *Table {
	t, ok := c.Tables[name]
	if !ok {
		t = &Table{Name: name}
		c.Tables[name] = t
	}
	return t
}

func (t *Table) sort() {
	sort.Strings(t.Checks)
	sort.Strings(t.Uniques)
	sort.Slice(t.ForeignKeys, func(i, j int) bool { return t.ForeignKeys[i].Column < t.ForeignKeys[j].Column })
}

// TableNames returns the table names in alphabetical order.
func (c *Catalog) TableNames() []string {
	names := make([]string, 0, len(c.Tables))
	for n := range c.Tables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DeleteOrder returns the tables ordered so that every table comes before the
// tables it references: deleting in this order never violates a foreign key.
func (c *Catalog) DeleteOrder() []string {
	names := c.TableNames()
	done := map[string]bool{}
	var order []string
	// Kahn's algorithm on "referenced by": a table can go once nothing that
	// still has rows references it.
	for len(order) < len(names) {
		progressed := false
		for _, n := range names {
			if done[n] {
				continue
			}
			blocked := false
			for _, other := range names {
				if done[other] || other == n {
					continue
				}
				for _, fk := range c.Tables[other].ForeignKeys {
					if fk.RefTable == n {
						blocked = true
					}
				}
			}
			if !blocked {
				done[n] = true
				order = append(order, n)
				progressed = true
			}
		}
		if !progressed { // a cycle: append the rest; FK actions must resolve it
			for _, n := range names {
				if !done[n] {
					done[n] = true
					order = append(order, n)
				}
			}
		}
	}
	return order
}

var (
	reSpaces = regexp.MustCompile(`\s+`)
	reCasts  = regexp.MustCompile(`::\w+`)
)

// NormalizePredicate makes partial-index predicates comparable across
// dialects: lower case, no parentheses, no casts, single spaces.
func NormalizePredicate(p string) string {
	p = strings.ToLower(p)
	p = reCasts.ReplaceAllString(p, "")
	p = strings.NewReplacer("(", " ", ")", " ", ";", " ").Replace(p)
	return strings.TrimSpace(reSpaces.ReplaceAllString(p, " "))
}
