package server

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text in JSON bodies. encoding/json turns invalid UTF-8 and lone UTF-16
// surrogate escapes ("\ud800") into U+FFFD without a word, so a client's
// text would be stored altered. decodeJSON checks the raw body first with
// badJSONText and answers 400 naming the field instead; NUL (\u0000) is
// refused too, as PostgreSQL cannot store it in text.

// badJSONText returns the path of the first string (value or key) in body
// that is not valid text, and why; ok is false when there is none. Its
// answer only matters for syntactically valid JSON (the decoder rejects
// the rest), but it never fails on anything.
func badJSONText(body []byte) (path, why string, found bool) {
	if utf8.Valid(body) && !strings.Contains(string(body), `\u`) {
		return "", "", false // the common case: nothing to look at
	}
	type frame struct {
		obj       bool
		key       string
		idx       int
		expectKey bool
	}
	var stack []frame
	where := func(asKey bool) string {
		var b strings.Builder
		for i, f := range stack {
			if f.obj {
				if i == len(stack)-1 && asKey {
					break
				}
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				b.WriteString("[" + strconv.Itoa(f.idx) + "]")
			}
		}
		if b.Len() == 0 {
			return "body"
		}
		return b.String()
	}
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '{':
			stack = append(stack, frame{obj: true, expectKey: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if n := len(stack); n > 0 {
				if stack[n-1].obj {
					stack[n-1].expectKey = true
				} else {
					stack[n-1].idx++
				}
			}
		case '"':
			end, problem := scanJSONString(body, i)
			isKey := len(stack) > 0 && stack[len(stack)-1].obj && stack[len(stack)-1].expectKey
			if isKey {
				var k string
				if json.Unmarshal(body[i:end], &k) != nil || problem != "" {
					k = "?"
				}
				stack[len(stack)-1].key, stack[len(stack)-1].expectKey = k, false
			}
			if problem != "" {
				p := where(isKey)
				if isKey {
					p = strings.TrimPrefix(p+" (a key)", "body ")
				}
				return p, problem, true
			}
			i = end - 1
		}
	}
	return "", "", false
}

// scanJSONString reads the string starting at body[start] == '"' and
// returns the index just past its closing quote and what is wrong with its
// text, if anything.
func scanJSONString(body []byte, start int) (end int, problem string) {
	i := start + 1
	for i < len(body) {
		c := body[i]
		switch {
		case c == '"':
			return i + 1, problem
		case c == '\\':
			if i+1 >= len(body) {
				return len(body), problem
			}
			if body[i+1] != 'u' {
				i += 2
				continue
			}
			r, ok := hex4(body, i+2)
			if !ok {
				i += 2
				continue
			}
			i += 6
			switch {
			case r == 0:
				if problem == "" {
					problem = "contains a NUL character (\\u0000)"
				}
			case r >= 0xDC00 && r <= 0xDFFF:
				if problem == "" {
					problem = "contains a lone UTF-16 surrogate escape"
				}
			case r >= 0xD800 && r <= 0xDBFF:
				lo, ok := rune(0), false
				if i+1 < len(body) && body[i] == '\\' && body[i+1] == 'u' {
					lo, ok = hex4(body, i+2)
				}
				if ok && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 6
				} else if problem == "" {
					problem = "contains a lone UTF-16 surrogate escape"
				}
			}
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size == 1 && problem == "" {
				problem = "is not valid UTF-8"
			}
			i += size
		}
	}
	return len(body), problem
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[at:at+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}
