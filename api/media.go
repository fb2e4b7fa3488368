package api

import (
	"bytes"
	"net/http"

	"github.com/sophia-pbx/sophia/config"
)

// The media library is shared by every site: any token lists and downloads it (sheets
// name its files), only an "all" token uploads or deletes.

func (s *Server) listMedia(w http.ResponseWriter, r *http.Request) error {
	list, err := s.store.ListMedia(r.Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []*config.MediaInfo{}
	}
	writeJSON(w, http.StatusOK, Page[*config.MediaInfo]{Items: list})
	return nil
}

// getMedia answers the file itself (audio/wav), with Range and conditional GET support,
// so a PBX's HTTP media cache can fetch it.
func (s *Server) getMedia(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	data, info, err := s.store.GetMedia(r.Context(), name)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("ETag", `"`+info.SHA256+`"`)
	http.ServeContent(w, r, name+".wav", info.CreatedAt, bytes.NewReader(data))
	return nil
}

// putMedia stores the body, a WAV file of PCM audio, under name.
func (s *Server) putMedia(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	data, err := readBody(w, r, s.opts.MaxMediaBytes)
	if err != nil {
		return err
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !wavContentType(ct) {
		return errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia,
			"Content-Type %q is not accepted; upload a PCM WAV file as audio/wav", ct)
	}
	info, err := s.store.PutMedia(r.Context(), name, data, actor(r))
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/media/"+name)
	writeJSON(w, http.StatusCreated, info)
	return nil
}

func wavContentType(ct string) bool {
	switch ct {
	case "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "application/octet-stream":
		return true
	}
	return false
}

// deleteMedia refuses (409, naming them) while a sheet uses the file.
func (s *Server) deleteMedia(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.DeleteMedia(r.Context(), r.PathValue("name"), actor(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
