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
func (s *Server) resultsRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/missions/:id/results", Access: Permission, Perm: "mission.read", h: s.missionResults},
		{Method: "GET", Path: "/missions/:id/layer", Access: Permission, Perm: "mission.read", h: s.missionLayer},
		{Method: "GET", Path: "/missions/:id/navigator-layer", Access: Permission, Perm: "mission.read", h: s.missionLayer},
		{Method: "GET", Path: "/missions/:id/report.csv", Access: Permission, Perm: "mission.read", h: s.missionReportCSV},
		{Method: "GET", Path: "/missions/:id/report.json", Access: Permission, Perm: "mission.read", h: s.missionReportJSON},
		{Method: "GET", Path: "/missions/:id/report.html", Access: Permission, Perm: "mission.read", h: s.missionReportHTML},
		{Method: "GET", Path: "/coverage", Access: Permission, Perm: "mission.read", h: s.coverage},
		{Method: "GET", Path: "/coverage/layer", Access: Permission, Perm: "mission.read", h: s.coverageLayer},
		{Method: "POST", Path: "/layers/import", Access: Permission, Perm: "test_template.read",
			Limit: results.MaxLayerBytes + 64<<10, h: s.importLayer},
	}
}
