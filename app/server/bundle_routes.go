package server

import (
	"github.com/purplebook/purplebook/app/bundle"
	"github.com/purplebook/purplebook/app/bundle/librarybundle"
	"github.com/purplebook/purplebook/app/bundle/missionbundle"
)

// bundleUploadLimit is the import route's body limit: the largest bundle
// content the reader accepts plus room for the zip's and the multipart
// body's framing.
const bundleUploadLimit = bundle.DefaultImportBytes + 64<<20

// Engagement bundles: export, import (upload and dry run, apply), merge
// conflicts, trusted keys and the instance identity.
// bundlePlan is what an import answers: the report of a mission bundle or
// of a library bundle, by the bundle's kind.
var bundlePlan = AnyOf{missionbundle.Report{}, librarybundle.Report{}}

func (s *Server) bundleRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/missions/:id/bundle", Access: Permission, Perm: "bundle.export", h: s.exportMissionBundle, Summary: "Export a mission bundle (.pbz, streamed)",
			Query: []string{"evidence: include evidence files (default true)", "blue: include blue-team fields (default true)"},
			Out:   Media{Type: BundleContentType, Desc: "The signed bundle (zip); X-Bundle-Estimated-Size gives the expected size"}},
		{Method: "GET", Path: "/library/bundle", Access: Permission, Perm: "bundle.export", h: s.exportLibraryBundle,
			Summary: "Export the library as a signed bundle (templates and scenarios the caller may read, detection levels, controls)",
			Out:     Media{Type: BundleContentType, Desc: "The signed library bundle (zip)"}},
		{Method: "POST", Path: "/bundles", Access: Permission, Perm: "bundle.import", Limit: bundleUploadLimit, h: s.uploadBundle,
			Summary: "Upload a bundle: verify it and plan the import (dry run)", In: Form{"file": "file: the bundle (.pbz) (required)"},
			Out: bundlePlan, Status: 201},
		{Method: "GET", Path: "/bundles/:import_id", Access: Permission, Perm: "bundle.import", h: s.getBundleImport, Summary: "The plan of an uploaded bundle", Out: bundlePlan},
		{Method: "POST", Path: "/bundles/:import_id/apply", Access: Permission, Perm: "bundle.import", h: s.applyBundle, Summary: "Apply an uploaded bundle in one transaction", In: missionbundle.ApplyParams{}, Out: bundlePlan},
		{Method: "DELETE", Path: "/bundles/:import_id", Access: Permission, Perm: "bundle.import", h: s.discardBundle, Summary: "Discard an uploaded bundle", Status: 204},
		{Method: "GET", Path: "/missions/:id/conflicts", Access: Permission, Perm: "mission.read", h: s.listConflicts, Summary: "A mission's merge conflicts", Out: conflictList{}},
		{Method: "POST", Path: "/missions/:id/conflicts/:cid/resolve", Access: Permission, Perm: "mission.update", h: s.resolveConflict, Summary: "Resolve a merge conflict (ours or theirs)", In: choiceRequest{}, Out: missionbundle.Conflict{}},
		{Method: "GET", Path: "/trusted-keys", Access: Permission, Perm: "bundle.import", h: s.listTrustedKeys, Summary: "Trusted signing keys of other instances", Out: trustedKeyList{}},
		{Method: "POST", Path: "/trusted-keys", Access: Permission, Perm: "settings.manage", h: s.addTrustedKey, Summary: "Trust another instance's key", In: trustedKeyRequest{}, Out: bundle.TrustedKey{}, Status: 201},
		{Method: "DELETE", Path: "/trusted-keys", Access: Permission, Perm: "settings.manage", h: s.removeTrustedKey, Summary: "Stop trusting a key", Query: []string{"fingerprint: the key's fingerprint (required)"}, Status: 204},
		{Method: "GET", Path: "/instance", Access: Authenticated, h: s.getInstance, Summary: "This instance's identity and public key", Out: instanceView{}},
		{Method: "PATCH", Path: "/instance", Access: Permission, Perm: "settings.manage", h: s.patchInstance, Summary: "Rename this instance", In: instanceRequest{}, Out: instanceView{}},
	}
}
