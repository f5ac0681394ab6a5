// The admin school report (/admin/school): "Add to bank", "more clauses…" and "Run the bank" (issue 18).
// POSTs carry the X-PA-Admin header, which another site's form or page cannot send (see school_bank_api.py).
(function () {
  "use strict";

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-PA-Admin": "1" },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return {};
        })
        .then(function (data) {
          if (!response.ok) throw new Error(typeof data.detail === "string" ? data.detail : "The server said " + response.status + ".");
          return data;
        });
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) return;
    var row = button.closest("tr[data-answer-id]");
    if (button.classList.contains("pa-bank-add-button") && row) {
      var verdict = row.querySelector(".pa-bank-verdict").value;
      var clause = row.querySelector(".pa-bank-clause").value;
      var status = row.querySelector(".pa-bank-added");
      if (!clause && verdict !== "not_covered") {
        status.textContent = "Choose the clause, or the verdict not_covered.";
        return;
      }
      button.disabled = true;
      status.textContent = "Adding…";
      post("/admin/bank/add", { answer_id: row.getAttribute("data-answer-id"), verdict: [verdict], clause_id: clause || null })
        .then(function (data) {
          status.textContent = "Added to the bank as " + data.entry.id + ".";
        })
        .catch(function (error) {
          status.textContent = error.message;
          button.disabled = false;
        });
    } else if (button.classList.contains("pa-more-clauses") && row) {
      var select = row.querySelector(".pa-bank-clause");
      var url = "/api/clauses?school=" + encodeURIComponent(select.getAttribute("data-school"));
      button.disabled = true;
      fetch(url, { credentials: "same-origin" })
        .then(function (response) {
          return response.json();
        })
        .then(function (clauses) {
          var have = {};
          Array.prototype.forEach.call(select.options, function (option) {
            have[option.value] = true;
          });
          clauses.forEach(function (clause) {
            if (have[clause.clause_id]) return;
            var option = document.createElement("option");
            option.value = clause.clause_id;
            option.textContent = clause.document_title + ": " + clause.text.slice(0, 90);
            select.appendChild(option);
          });
        })
        .catch(function () {
          button.disabled = false;
        });
    } else if (button.id === "pa-run-bank") {
      var runStatus = document.getElementById("pa-run-status");
      button.disabled = true;
      runStatus.textContent = "Running the bank… (a few seconds per question)";
      post("/admin/bank/run", { school: button.getAttribute("data-school") })
        .then(function () {
          window.location.reload();
        })
        .catch(function (error) {
          runStatus.textContent = error.message;
          button.disabled = false;
        });
    }
  });
})();
