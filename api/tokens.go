package api

import (
	"net/http"

	"github.com/sophia-pbx/sophia/config"
)

// Tokens are managed by "all" tokens. The secret is answered once, by the create; the
// store keeps only its hash.

// TokenRequest is the body of POST /v1/tokens.
type TokenRequest struct {
	Name  string       `json:"name"`
	Scope config.Scope `json:"scope"`
}

// NewToken is the answer to POST /v1/tokens: the token, and its secret, shown once.
type NewToken struct {
	Token  *config.Token `json:"token"`
	Secret string        `json:"secret"`
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	list, err := s.store.ListTokens(r.Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []*config.Token{}
	}
	writeJSON(w, http.StatusOK, Page[*config.Token]{Items: list})
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, s.opts.MaxBodyBytes, jsonTypes...)
	if err != nil {
		return err
	}
	var req TokenRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	tok, secret, err := s.store.CreateToken(r.Context(), req.Name, req.Scope, actor(r))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, NewToken{Token: tok, Secret: string(secret)})
	return nil
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) error {
	if err := s.store.DeleteToken(r.Context(), r.PathValue("name"), actor(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// whoami answers the caller's own token (never its secret).
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, caller(r))
	return nil
}
