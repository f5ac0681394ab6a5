// Feedback under each widget answer (issue 18): 👍/👎, then for 👎 an optional note and
// "the right part of the policy is…" clause picker; sent to POST /api/feedback.
// Exposes window.PAFeedback.node(answer, school) → a DOM node (text nodes only, never HTML).
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function send(body) {
    return fetch("/api/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).then(function (response) {
      if (!response.ok) {
        return response
          .json()
          .catch(function () {
            return {};
          })
          .then(function (data) {
            throw new Error(typeof data.detail === "string" ? data.detail : "Your feedback could not be sent (" + response.status + ").");
          });
      }
      return response.json();
    });
  }

  function fillClauses(select, answer, school) {
    var seen = {};
    (answer.citations || []).forEach(function (citation) {
      seen[citation.clause_id] = true;
      var option = el("option", null, citation.document_title + ": " + citation.text.slice(0, 100));
      option.value = citation.clause_id;
      select.appendChild(option);
    });
    var documents = (answer.citations || []).map(function (c) {
      return c.document;
    });
    fetch("/api/clauses?school=" + encodeURIComponent(school))
      .then(function (response) {
        return response.ok ? response.json() : [];
      })
      .then(function (clauses) {
        clauses
          .filter(function (c) {
            return !seen[c.clause_id] && (!documents.length || documents.indexOf(c.document) >= 0);
          })
          .forEach(function (c) {
            var option = el("option", null, c.document_title + ": " + c.text.slice(0, 100));
            option.value = c.clause_id;
            select.appendChild(option);
          });
      })
      .catch(function () {});
  }

  function node(answer, school) {
    var box = el("div", "pa-feedback");
    if (!answer.answer_id) return box;
    var ask = el("span", "pa-feedback-ask", "Was this helpful?");
    var up = el("button", "pa-feedback-up", "👍 Helpful");
    var down = el("button", "pa-feedback-down", "👎 Wrong or unhelpful");
    up.type = down.type = "button";
    var status = el("span", "pa-feedback-status");
    status.setAttribute("role", "status");
    box.appendChild(ask);
    box.appendChild(up);
    box.appendChild(down);
    box.appendChild(status);

    up.addEventListener("click", function () {
      up.disabled = down.disabled = true;
      up.classList.add("pa-chosen");
      send({ answer_id: answer.answer_id, rating: "up" })
        .then(function () {
          status.textContent = "Thank you for your feedback.";
        })
        .catch(function (error) {
          status.textContent = error.message;
          up.disabled = down.disabled = false;
        });
    });

    down.addEventListener("click", function () {
      up.disabled = down.disabled = true;
      down.classList.add("pa-chosen");
      var form = el("form", "pa-feedback-form");
      var noteLabel = el("label", null, "What was wrong? (optional — please leave out names)");
      var note = el("textarea", "pa-feedback-note");
      note.rows = 2;
      note.maxLength = 1000;
      note.id = "pa-note-" + answer.answer_id;
      noteLabel.htmlFor = note.id;
      var pickLabel = el("label", null, "The right part of the policy is… (optional)");
      var pick = el("select", "pa-feedback-clause");
      pick.id = "pa-clause-" + answer.answer_id;
      pickLabel.htmlFor = pick.id;
      var none = el("option", null, "I don't know / none of these");
      none.value = "";
      pick.appendChild(none);
      fillClauses(pick, answer, school);
      var submit = el("button", "pa-feedback-send", "Send feedback");
      submit.type = "submit";
      [noteLabel, note, pickLabel, pick, submit].forEach(function (n) {
        form.appendChild(n);
      });
      box.appendChild(form);
      note.focus();
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        submit.disabled = true;
        send({ answer_id: answer.answer_id, rating: "down", note: note.value.trim() || null, clause_id: pick.value || null })
          .then(function () {
            form.remove();
            status.textContent = "Thank you — the school will look at this answer.";
          })
          .catch(function (error) {
            status.textContent = error.message;
            submit.disabled = false;
          });
      });
    });
    return box;
  }

  window.PAFeedback = { node: node };
})();
