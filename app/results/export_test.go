package results

// SetReportOrganisation sets the organisation shown by a report (tests).
func SetReportOrganisation(r *Report, name, logo string) { r.Organisation, r.logo = name, logo }
