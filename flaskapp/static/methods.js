// /methods: send the form with fetch using the method of the button pressed, and show the echo.
// Loaded from a file (no inline script) so the page's Content-Security-Policy holds.
"use strict";

(function () {
  const form = document.getElementById("methods-form");
  const status = document.getElementById("status");
  const result = document.getElementById("result");
  if (!form) {
    return;
  }
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const method = (event.submitter && event.submitter.value) || "POST";
    const query = form.elements.query.value.replace(/^\?/, "");
    const url = form.action + (query ? "?" + query : "");
    const options = {
      method: method,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    };
    if (method !== "GET") {
      options.headers["X-CSRF-Token"] = form.elements.csrf_token.value;
      options.headers["Content-Type"] = "text/plain;charset=utf-8";
      options.body = form.elements.body.value;
    }
    status.textContent = "Sending " + method + " " + url + " ...";
    try {
      const response = await fetch(url, options);
      const text = await response.text();
      let shown = text;
      try {
        shown = JSON.stringify(JSON.parse(text), null, 2);
      } catch (ignored) {
        // not JSON: show as is
      }
      status.textContent = method + " " + url + " answered " + response.status + " " + response.statusText;
      result.textContent = shown;
    } catch (error) {
      status.textContent = method + " failed: " + error;
      result.textContent = "";
    }
  });
})();
