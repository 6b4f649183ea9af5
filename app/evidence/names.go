package evidence

import (
	"mime"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxFilenameBytes bounds a stored original filename (the common
// file-system limit for one path component).
const MaxFilenameBytes = 255

// DefaultFilename replaces a name that sanitises to nothing.
const DefaultFilename = "evidence"

// SanitizeFilename turns a client-supplied file name into metadata that is
// safe to store and show: path components stripped (both / and \, whatever
// the client's platform), invalid UTF-8, NUL, control characters and
// bidirectional overrides (which can disguise "gpj.exe" as "exe.jpg")
// removed, surrounding white space trimmed, and the result cut to
// MaxFilenameBytes on a UTF-8 boundary, keeping a short extension when it
// has to cut. A name that ends up empty, "." or ".." becomes "evidence".
// The name is never used to build a path.
func SanitizeFilename(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || isBidiControl(r) {
			return -1
		}
		return r
	}, name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSpace(name)
	if len(name) > MaxFilenameBytes {
		name = truncateKeepingExt(name, MaxFilenameBytes)
	}
	if name == "" || name == "." || name == ".." {
		return DefaultFilename
	}
	return name
}

// isBidiControl reports the invisible characters that reorder text.
func isBidiControl(r rune) bool {
	switch {
	case r == 0x061C, r == 0x200E, r == 0x200F:
		return true
	case r >= 0x202A && r <= 0x202E:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// truncateKeepingExt cuts s to at most max bytes on a rune boundary. A short
// extension (".png", ".tar.gz" counts as ".gz") survives the cut, so a very
// long name still opens with the right program.
func truncateKeepingExt(s string, max int) string {
	ext := path.Ext(s)
	if len(ext) < 2 || len(ext) > 16 || strings.ContainsAny(ext, " ") {
		ext = ""
	}
	stem := cutUTF8(s[:len(s)-len(ext)], max-len(ext))
	return strings.TrimSpace(stem) + ext
}

// cutUTF8 returns the longest prefix of s of at most n bytes that ends on a
// rune boundary.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// inlineTypes are the only types shown inline (image previews in the SPA):
// raster images no browser executes.
var inlineTypes = map[string]bool{
	"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
}

// passiveTypes are served with their own type. Everything else, notably
// text/html, text/xml (which is how SVG sniffs) and anything a browser might
// execute, goes out as application/octet-stream.
var passiveTypes = map[string]bool{
	"text/plain": true, "application/pdf": true, "application/zip": true, "application/x-gzip": true,
	"application/x-rar-compressed": true, "application/ogg": true, "application/vnd.ms-fontobject": true,
	"image/bmp": true, "image/x-icon": true, "image/avif": true,
}

// ServeType maps a stored (sniffed) content type to the Content-Type a
// download is served with, and says whether it may be shown inline.
func ServeType(stored string) (contentType string, inline bool) {
	mt, params, err := mime.ParseMediaType(stored)
	if err != nil {
		return "application/octet-stream", false
	}
	switch {
	case inlineTypes[mt]:
		return mt, true
	case mt == "text/plain":
		cs := strings.ToLower(params["charset"])
		if cs == "" || strings.ContainsAny(cs, "\";\\ ") {
			cs = "utf-8"
		}
		return "text/plain; charset=" + cs, false
	case passiveTypes[mt], strings.HasPrefix(mt, "audio/"), strings.HasPrefix(mt, "video/"), strings.HasPrefix(mt, "font/"):
		return mt, false
	}
	return "application/octet-stream", false
}
