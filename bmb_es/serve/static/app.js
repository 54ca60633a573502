// bmb-es search page: a changed mode, page size or filter searches again; the request body loads on demand.
// Text from the server is only ever set as textContent, never as HTML.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("search");
  const question = document.getElementById("q");
  for (const id of ["mode", "size"]) {
    const control = document.getElementById(id);
    if (control && form) {
      control.addEventListener("change", () => {
        if (question && question.value.trim()) form.requestSubmit();
      });
    }
  }

  const explain = document.getElementById("explain");
  const body = document.getElementById("explain-body");
  if (explain && body) {
    let loaded = false;
    explain.addEventListener("toggle", async () => {
      if (!explain.open || loaded) return;
      loaded = true;
      try {
        const response = await fetch(explain.dataset.url, { headers: { Accept: "application/json" } });
        const data = await response.json();
        body.textContent = response.ok ? JSON.stringify(data.body, null, 2) : "error: " + data.error;
      } catch (error) {
        loaded = false;
        body.textContent = "error: " + error;
      }
    });
  }
});
