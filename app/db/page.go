package db

// PageParams are the page/per_page query parameters of list endpoints.
type PageParams struct {
	Page    int // 1-based
	PerPage int // 1..MaxPerPage
}

// Page limits.
const (
	DefaultPerPage = 50
	MaxPerPage     = 200
)

// Normalize clamps missing or out-of-range values to defaults.
func (p PageParams) Normalize() PageParams {
	if p.Page < 1 {
		p.Page = 1
	}
	if p.PerPage < 1 {
		p.PerPage = DefaultPerPage
	}
	if p.PerPage > MaxPerPage {
		p.PerPage = MaxPerPage
	}
	return p
}

// Offset is the number of rows to skip.
func (p PageParams) Offset() int64 { return int64((p.Page - 1) * p.PerPage) }

// Page is one page of a list: {"items":[…],"total":N,"page":P,"per_page":N}.
type Page[T any] struct {
	Items   []T `json:"items"`
	Total   int `json:"total"`
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
}

// NewPage makes a page; a nil slice becomes [] in JSON.
func NewPage[T any](items []T, total int, p PageParams) Page[T] {
	if items == nil {
		items = []T{}
	}
	return Page[T]{Items: items, Total: total, Page: p.Page, PerPage: p.PerPage}
}
