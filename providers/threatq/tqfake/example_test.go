package tqfake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// Example shows the flow a ThreatQ client follows against the emulator: a
// password grant, then a bearer-authenticated call.
func Example() {
	s := tqfake.New(tqfake.Options{})
	defer s.Close()

	q := url.Values{"grant_type": {"password"}, "client_id": {tqfake.DefaultClientID}}
	creds, _ := json.Marshal(map[string]string{"email": tqfake.DefaultEmail, "password": tqfake.DefaultPassword})
	resp, err := http.Post(s.URL+"/api/token?"+q.Encode(), "application/json", bytes.NewReader(creds))
	if err != nil {
		fmt.Println(err)
		return
	}
	var token struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&token)
	resp.Body.Close()

	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/indicators/search?value="+url.QueryEscape(tqfake.SeedSearchTerm), nil)
	req.Header.Set("Authorization", "Bearer "+token.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var page struct {
		Total int `json:"total"`
		Data  []struct {
			Value string `json:"value"`
		} `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&page)
	fmt.Println(resp.StatusCode, page.Total)
	for _, ind := range page.Data {
		fmt.Println(ind.Value)
	}
	fmt.Println("tokens issued:", s.TokenCount())
	// Output:
	// 200 3
	// www.test.com
	// mail.test.com
	// https://www.test.com/invoice.zip
	// tokens issued: 1
}
