package pluginhost

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// ManifestFile is the manifest's name inside a plugin's version directory.
const ManifestFile = "manifest.json"

// BinaryPrefix starts the file name of every installed connector binary.
const BinaryPrefix = "datasync-connector-"

// Manifest is what install learned about a plugin: its identity, checksum
// and what it asks of an admin.
type Manifest struct {
	Name         string    `json:"name"`
	Version      string    `json:"version"`
	Protocol     int       `json:"protocol"`
	SHA256       string    `json:"sha256"`
	Description  string    `json:"description"`
	AuthFields   []Field   `json:"auth_fields"`
	OAuth2       *OAuth2   `json:"oauth2,omitempty"`
	Settings     []Field   `json:"settings"`
	Capabilities []string  `json:"capabilities"`
	Requirements []string  `json:"requirements"`
	InstalledAt  time.Time `json:"installed_at"`
	// Path is the installed binary; it is not stored (the directory says it).
	Path string `json:"-"`
}

// Field is a setting or credential a connection of the plugin takes.
type Field struct {
	Name        string `json:"name"`
	Label       string `json:"label,omitempty"`
	Description string `json:"description,omitempty"`
	Secret      bool   `json:"secret,omitempty"`
	Required    bool   `json:"required,omitempty"`
	Default     string `json:"default,omitempty"`
	Example     string `json:"example,omitempty"`
}

// OAuth2 is the plugin's OAuth2 provider, when it authenticates that way.
type OAuth2 struct {
	AuthURL            string   `json:"auth_url,omitempty"`
	TokenURL           string   `json:"token_url,omitempty"`
	DeviceAuthURL      string   `json:"device_auth_url,omitempty"`
	Scopes             []string `json:"scopes,omitempty"`
	PKCE               bool     `json:"pkce,omitempty"`
	ClientFromSettings bool     `json:"client_from_settings,omitempty"`
	DefaultClientID    string   `json:"default_client_id,omitempty"`
	TokenSecret        string   `json:"token_secret,omitempty"`
}

// Ref is "name@version".
func (m Manifest) Ref() string { return m.Name + "@" + m.Version }

// SDKDescription rebuilds the plugin's sdk.Description from the manifest, for
// validating a connection's config without launching the plugin.
func (m Manifest) SDKDescription() sdk.Description {
	d := sdk.Description{Name: m.Name, Version: m.Version, Description: m.Description, ProtocolMajor: m.Protocol,
		Capabilities: m.Capabilities, Requirements: m.Requirements,
		Auth: sdk.AuthSpec{Fields: toConfigFields(m.AuthFields)}, Settings: toConfigFields(m.Settings)}
	if o := m.OAuth2; o != nil {
		d.Auth.OAuth2 = &sdk.OAuth2Spec{AuthURL: o.AuthURL, TokenURL: o.TokenURL, DeviceAuthURL: o.DeviceAuthURL,
			Scopes: o.Scopes, PKCE: o.PKCE, ClientFromSettings: o.ClientFromSettings,
			DefaultClientID: o.DefaultClientID, TokenSecret: o.TokenSecret}
	}
	return d
}

func manifestFrom(d sdk.Description, sum string, at time.Time) Manifest {
	m := Manifest{Name: d.Name, Version: d.Version, Protocol: d.ProtocolMajor, SHA256: sum, Description: d.Description,
		AuthFields: fromConfigFields(d.Auth.Fields), Settings: fromConfigFields(d.Settings),
		Capabilities: nonNil(d.Capabilities), Requirements: nonNil(d.Requirements), InstalledAt: at.UTC()}
	if o := d.Auth.OAuth2; o != nil {
		m.OAuth2 = &OAuth2{AuthURL: o.AuthURL, TokenURL: o.TokenURL, DeviceAuthURL: o.DeviceAuthURL, Scopes: o.Scopes,
			PKCE: o.PKCE, ClientFromSettings: o.ClientFromSettings, DefaultClientID: o.DefaultClientID, TokenSecret: o.TokenSecret}
	}
	return m
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func fromConfigFields(fs []sdk.ConfigField) []Field {
	out := make([]Field, len(fs))
	for i, f := range fs {
		out[i] = Field{Name: f.Name, Label: f.Label, Description: f.Description, Secret: f.Secret,
			Required: f.Required, Default: f.Default, Example: f.Example}
	}
	return out
}

func toConfigFields(fs []Field) []sdk.ConfigField {
	out := make([]sdk.ConfigField, len(fs))
	for i, f := range fs {
		out[i] = sdk.ConfigField{Name: f.Name, Label: f.Label, Description: f.Description, Secret: f.Secret,
			Required: f.Required, Default: f.Default, Example: f.Example}
	}
	return out
}

func writeManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o644)
}

// readManifest reads the manifest in a version directory and checks that it
// belongs there.
func readManifest(dir string) (Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return Manifest{}, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if m.Name != filepath.Base(filepath.Dir(dir)) || m.Version != filepath.Base(dir) {
		return Manifest{}, fmt.Errorf("%s: names %s, which does not match its directory", filepath.Join(dir, ManifestFile), m.Ref())
	}
	m.Path = filepath.Join(dir, BinaryPrefix+m.Name)
	return m, nil
}
