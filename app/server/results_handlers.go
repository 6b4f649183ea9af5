package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/purplebook/purplebook/app/apperr"
	"github.com/purplebook/purplebook/app/results"
	"github.com/uptrace/bunrouter"
)

func (s *Server) missionResults(w http.ResponseWriter, req bunrouter.Request) error {
	res, err := s.opts.Results.MissionResults(req.Context(), caller(req), req.Param("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// baseURL is where links in exported layers point: the address the client
// used to reach this server.
func baseURL(req bunrouter.Request) string {
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	if req.Host == "" {
		return ""
	}
	return scheme + "://" + req.Host
}

func layerParams(req bunrouter.Request) (results.LayerParams, error) {
	color, err := queryString(req, "color")
	if err != nil {
		return results.LayerParams{}, err
	}
	return results.LayerParams{ColorBy: results.ColorBy(color), BaseURL: baseURL(req)}, nil
}

// slug makes a file name part from a mission name: ASCII letters, digits
// and dashes, at most 60 characters.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	if b.Len() == 0 {
		return "mission"
	}
	return b.String()
}

// download writes a file response (attachment) with its own headers.
func download(w http.ResponseWriter, contentType, filename string, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(body); err != nil {
		return errResponseWritten
	}
	return nil
}

func writeLayer(w http.ResponseWriter, filename string, l *results.Layer) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(l); err != nil {
		return fmt.Errorf("server: encode layer: %w", err)
	}
	return download(w, "application/json; charset=utf-8", filename, buf.Bytes())
}

func (s *Server) missionLayer(w http.ResponseWriter, req bunrouter.Request) error {
	p, err := layerParams(req)
	if err != nil {
		return err
	}
	l, err := s.opts.Results.MissionLayer(req.Context(), caller(req), req.Param("id"), p)
	if err != nil {
		return err
	}
	return writeLayer(w, "purplebook-"+slug(strings.TrimPrefix(l.Name, "Purplebook: "))+"-layer.json", l)
}

func (s *Server) missionReport(req bunrouter.Request) (*results.Report, error) {
	return s.opts.Results.MissionReport(req.Context(), caller(req), req.Param("id"))
}

func (s *Server) missionReportCSV(w http.ResponseWriter, req bunrouter.Request) error {
	bom, err := queryBool(req, "bom")
	if err != nil {
		return err
	}
	safe, err := queryBool(req, "excel_safe")
	if err != nil {
		return err
	}
	rep, err := s.missionReport(req)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf, results.CSVOptions{BOM: bom != nil && *bom, ExcelSafe: safe != nil && *safe}); err != nil {
		return fmt.Errorf("server: csv report: %w", err)
	}
	return download(w, "text/csv; charset=utf-8; header=present", "purplebook-"+slug(rep.Mission.Name)+"-results.csv", buf.Bytes())
}

func (s *Server) missionReportJSON(w http.ResponseWriter, req bunrouter.Request) error {
	rep, err := s.missionReport(req)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("server: json report: %w", err)
	}
	return download(w, "application/json; charset=utf-8", "purplebook-"+slug(rep.Mission.Name)+"-results.json", buf.Bytes())
}

// reportCSP lets the self-contained report use its inline styles and the
// inline logo, and nothing else, should a browser render it from here.
const reportCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; sandbox"

func (s *Server) missionReportHTML(w http.ResponseWriter, req bunrouter.Request) error {
	rep, err := s.missionReport(req)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		return err
	}
	w.Header().Set("Content-Security-Policy", reportCSP)
	return download(w, "text/html; charset=utf-8", "purplebook-"+slug(rep.Mission.Name)+"-report.html", buf.Bytes())
}

// coverageParams reads from, to, status (repeated or comma-separated),
// mission_id (likewise) and q.
func coverageParams(req bunrouter.Request) (results.CoverageParams, error) {
	var p results.CoverageParams
	var err error
	if p.From, err = queryString(req, "from"); err != nil {
		return p, err
	}
	if p.To, err = queryString(req, "to"); err != nil {
		return p, err
	}
	if p.Q, err = queryString(req, "q"); err != nil {
		return p, err
	}
	list := func(name string) []string {
		var out []string
		for _, v := range req.URL.Query()[name] {
			for _, x := range strings.Split(v, ",") {
				if x = strings.TrimSpace(x); x != "" {
					out = append(out, x)
				}
			}
		}
		return out
	}
	p.Statuses, p.MissionIDs = list("status"), list("mission_id")
	return p, nil
}

func (s *Server) coverage(w http.ResponseWriter, req bunrouter.Request) error {
	p, err := coverageParams(req)
	if err != nil {
		return err
	}
	cov, err := s.opts.Results.Coverage(req.Context(), caller(req), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, cov)
}

func (s *Server) coverageLayer(w http.ResponseWriter, req bunrouter.Request) error {
	p, err := coverageParams(req)
	if err != nil {
		return err
	}
	lp, err := layerParams(req)
	if err != nil {
		return err
	}
	l, err := s.opts.Results.CoverageLayer(req.Context(), caller(req), p, lp)
	if err != nil {
		return err
	}
	return writeLayer(w, "purplebook-coverage-layer.json", l)
}

// layerImportBody is the JSON form of POST /layers/import: the layer (the
// file's JSON, as an object, a list or a string holding it) and the options.
type layerImportBody struct {
	Layer json.RawMessage `json:"layer"`
	results.ImportParams
}

// importLayer takes a layer file and answers the plan (and, with create,
// the scenario template it made). Either multipart/form-data with a "file"
// part and option fields (platform, max_per_technique, min_score,
// max_score, layer_index, name, create), or JSON {"layer": …, options}.
func (s *Server) importLayer(w http.ResponseWriter, req bunrouter.Request) error {
	var raw []byte
	var p results.ImportParams
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	switch mt {
	case "multipart/form-data":
		var err error
		if raw, p, err = readLayerMultipart(req); err != nil {
			return err
		}
	case "application/json", "":
		var body layerImportBody
		if err := decodeJSON(req, &body); err != nil {
			return err
		}
		raw = body.Layer
		var str string
		if json.Unmarshal(body.Layer, &str) == nil {
			raw = []byte(str) // the file's text as a string
		}
		p = body.ImportParams
	default:
		return apperr.New(apperr.ErrBadRequest, "unsupported_media_type",
			`Send the layer as multipart/form-data (a "file" part) or as JSON {"layer": …}.`)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return &apperr.Invalid{Message: "Attach the layer file.", Fields: map[string]string{"layer": "is required"}}
	}
	if len(raw) > results.MaxLayerBytes {
		return &http.MaxBytesError{Limit: results.MaxLayerBytes}
	}
	res, err := s.opts.Results.ImportLayer(req.Context(), caller(req), raw, p)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Scenario != nil {
		status = http.StatusCreated
	}
	return writeJSON(w, status, res)
}

func readLayerMultipart(req bunrouter.Request) ([]byte, results.ImportParams, error) {
	var p results.ImportParams
	var raw []byte
	mr, err := req.MultipartReader()
	if err != nil {
		return nil, p, apperr.BadRequest("invalid_multipart", "The multipart body cannot be read.")
	}
	var inv apperr.Invalid
	num := func(field, v string) *float64 {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			inv.Add(field, "must be a number")
			return nil
		}
		return &f
	}
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, p, err
			}
			return nil, p, apperr.BadRequest("invalid_multipart", "The multipart body is malformed.")
		}
		if parts > 20 {
			part.Close()
			return nil, p, apperr.BadRequest("too_many_parts", "Send one layer file and the options.")
		}
		data, err := io.ReadAll(io.LimitReader(part, results.MaxLayerBytes+1))
		part.Close()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, p, err
			}
			return nil, p, apperr.BadRequest("invalid_multipart", "The multipart body is malformed.")
		}
		v := string(data)
		switch part.FormName() {
		case "file":
			if raw != nil {
				return nil, p, apperr.BadRequest("too_many_files", "Send one layer file.")
			}
			raw = data
		case "platform":
			p.Platform = v
		case "name":
			p.Name = v
		case "max_per_technique":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				inv.Add("max_per_technique", "must be a whole number")
			}
			p.MaxPerTechnique = n
		case "layer_index":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				inv.Add("layer_index", "must be a whole number")
			}
			p.LayerIndex = n
		case "min_score":
			if strings.TrimSpace(v) != "" {
				p.MinScore = num("min_score", v)
			}
		case "max_score":
			if strings.TrimSpace(v) != "" {
				p.MaxScore = num("max_score", v)
			}
		case "create":
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "true", "1", "on":
				p.Create = true
			case "false", "0", "":
			default:
				inv.Add("create", "must be true or false")
			}
		default:
			return nil, p, apperr.BadRequest("unknown_field", "Unknown form field %q.", part.FormName()).
				WithDetails(map[string]any{part.FormName(): "unknown field"})
		}
	}
	return raw, p, inv.Err()
}
