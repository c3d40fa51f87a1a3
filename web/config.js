// The one place the page is configured. After `cdk deploy`, set apiBase to the stack's ApiBase
// output and signIn to its UserPoolClientId / SignInEndpoint outputs (docs/storefront.md);
// `make web` serves its own copy of this file pointing at the local API front and user pool.
window.ALSRECO_CONFIG = {
  apiBase: "http://127.0.0.1:8765",
  apiKey: "",                     // only when the stack was deployed with -c api_key=true
  catalogueUrl: "catalogue.json", // built from the model: python -m api.catalogue MODEL_DIR catalogue.json
  signIn: null,                   // {endpoint: "https://cognito-idp.<region>.amazonaws.com/", clientId: "...",
                                  //  staffGroup: "staff"}; null: no sign-in form (anonymous visitors only)
  events: false                   // true: the API records this visit's events (POST /events) and the next
                                  // list follows them (docs/live.md); false: the page sends its basket as items
};
