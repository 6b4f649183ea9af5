package server

import "github.com/purplebook/purplebook/app/results"

// resultsRoutes: mission results, the organisation-wide coverage, ATT&CK
// Navigator layers out and in, and the reports. Mission-scoped routes need
// mission.read and answer 404 unless the caller is a member or holds
// mission.read_all (the results service asks the missions service, like
// every mission route). The coverage covers only the missions the caller may
// see. Importing a layer reads the library (test_template.read); creating
// the scenario template it plans also needs scenario_template.create,
// checked by the service.
var (
	layerQuery    = []string{"color: what colours the techniques (outcome, coverage…)"}
	coverageQuery = []string{"from: start date", "to: end date", "q: search text", "status: mission statuses (comma separated)", "mission_id: mission ids (comma separated)"}
)

func (s *Server) resultsRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/missions/:id/results", Access: Permission, Perm: "mission.read", h: s.missionResults, Summary: "A mission's results: outcomes, times, per technique", Out: results.MissionResults{}},
		{Method: "GET", Path: "/missions/:id/layer", Access: Permission, Perm: "mission.read", h: s.missionLayer,
			Summary: "ATT&CK Navigator layer of a mission (download)", Query: layerQuery, Out: results.Layer{}},
		{Method: "GET", Path: "/missions/:id/navigator-layer", Access: Permission, Perm: "mission.read", h: s.missionLayer,
			Summary: "ATT&CK Navigator layer of a mission (alias of /layer)", Query: layerQuery, Out: results.Layer{}},
		{Method: "GET", Path: "/missions/:id/report.csv", Access: Permission, Perm: "mission.read", h: s.missionReportCSV, Summary: "Results as CSV (download)",
			Query: []string{"bom: true to start with a UTF-8 BOM", "excel_safe: true to neutralise formulas"}, Out: Media{Type: "text/csv", Desc: "One row per test and control"}},
		{Method: "GET", Path: "/missions/:id/report.json", Access: Permission, Perm: "mission.read", h: s.missionReportJSON, Summary: "Results report as JSON (download)", Out: results.Report{}},
		{Method: "GET", Path: "/missions/:id/report.html", Access: Permission, Perm: "mission.read", h: s.missionReportHTML, Summary: "Printable report (download)", Out: Media{Type: "text/html", Desc: "A self-contained HTML report"}},
		{Method: "GET", Path: "/coverage", Access: Permission, Perm: "mission.read", h: s.coverage, Summary: "Coverage across the missions I may see", Query: coverageQuery, Out: results.Coverage{}},
		{Method: "GET", Path: "/coverage/layer", Access: Permission, Perm: "mission.read", h: s.coverageLayer, Summary: "Navigator layer of the coverage (download)", Query: append(layerQuery, coverageQuery...), Out: results.Layer{}},
		{Method: "POST", Path: "/layers/import", Access: Permission, Perm: "test_template.read",
			Limit: results.MaxLayerBytes + 64<<10, h: s.importLayer,
			Summary: "Import a Navigator layer: match it to the library, optionally plan a scenario template",
			In:      Alt{layerImportBody{}, Form{"file": "file: the layer JSON (required)", "create_scenario": "true to create the scenario template", "name": "scenario name"}},
			Out:     Responses{200: results.ImportResult{}, 201: results.ImportResult{}}, Doc: "201 when a scenario template was created."},
	}
}
