// The one place the page is configured. Replace apiBase with the stack's ApiUrl output
// (e.g. "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"); `make web` serves its own
// copy of this file pointing at the local API front.
window.ALSRECO_CONFIG = {
  apiBase: "http://127.0.0.1:8765",
  apiKey: "",                     // only when the stack was deployed with -c api_key=true
  catalogueUrl: "catalogue.json"  // built from the model: python -m api.catalogue MODEL_DIR catalogue.json
};
