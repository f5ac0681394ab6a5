// The parent widget page (/widget?school=<id>): ask /api/ask, show verdict, answer and quoted clauses.
// Everything the user types or the policy says is inserted as text nodes, never as HTML.
(function () {
  "use strict";

  var root = document.getElementById("pa-widget");
  var form = document.getElementById("pa-form");
  var input = document.getElementById("pa-question");
  var send = document.getElementById("pa-send");
  var log = document.getElementById("pa-log");
  var status = document.getElementById("pa-status");
  var school = root.dataset.school;
  var schoolName = root.dataset.schoolName;
  var audience = root.dataset.audience;
  var labels = JSON.parse(root.dataset.labels);
  var bandNotes = JSON.parse(root.dataset.bands || "{}");
  var history = [];
  var busy = false;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function citationNode(citation) {
    var quote = el("blockquote", "pa-citation");
    quote.appendChild(el("p", "pa-quote", citation.text));
    var where = [schoolName, citation.document_title];
    if (citation.section) where.push(citation.section);
    if (citation.page) where.push("page " + citation.page);
    var source = el("p", "pa-source", where.join(" · ") + " · ");
    var link = el("a", "pa-open", "open in policy");
    link.href = citation.url;
    link.target = "_blank";
    link.rel = "noopener";
    source.appendChild(link);
    quote.appendChild(source);
    return quote;
  }

  function answerNode(answer) {
    var band = answer.band || "answer";
    var box = el("div", "pa-answer pa-verdict-" + answer.verdict + " pa-band-" + band);
    var head = el("p", "pa-head");
    var badge = el("span", "pa-badge pa-badge-" + answer.verdict, labels[answer.verdict] || answer.verdict);
    head.appendChild(badge);
    var bandText = bandNotes[band] || band;
    if (typeof answer.confidence === "number" && band !== "not_covered") bandText += " · " + Math.round(answer.confidence * 100) + "% sure";
    head.appendChild(el("span", "pa-confidence pa-confidence-" + band, bandText));
    box.appendChild(head);
    box.appendChild(el("p", "pa-text", answer.text));
    (answer.notes || []).forEach(function (note) {
      box.appendChild(el("p", "pa-note", note));
    });
    answer.citations.forEach(function (citation) {
      box.appendChild(citationNode(citation));
    });
    return box;
  }

  function errorMessage(status, body) {
    if (body && typeof body.message === "string") return body.message;
    if (body && typeof body.detail === "string") return body.detail;
    if (status === 404) return "This school is not set up for questions yet.";
    return "Sorry, something went wrong. Please try again.";
  }

  function ask(question) {
    question = question.trim();
    if (!question || busy) {
      if (!question) {
        status.textContent = "Type a question first.";
        input.focus();
      }
      return;
    }
    busy = true;
    send.disabled = true;
    status.textContent = "Looking in the policy…";
    var examples = log.querySelector(".pa-examples");
    if (examples) examples.remove();
    var turn = el("div", "pa-turn");
    turn.appendChild(el("p", "pa-question", question));
    log.appendChild(turn);
    turn.scrollIntoView({ block: "end" });

    fetch("/api/ask", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ question: question, school: school, audience: audience, history: history.slice(-20) }),
    })
      .then(function (response) {
        return response
          .json()
          .catch(function () {
            return null;
          })
          .then(function (body) {
            if (!response.ok) throw new Error(errorMessage(response.status, body));
            return body;
          });
      })
      .then(function (answer) {
        history.push(question);
        turn.appendChild(answerNode(answer));
        status.textContent = "Answer ready: " + (labels[answer.verdict] || answer.verdict);
        input.value = "";
      })
      .catch(function (error) {
        var problem = el("div", "pa-answer pa-error");
        problem.appendChild(el("p", "pa-text", error.message || String(error)));
        turn.appendChild(problem);
        status.textContent = "";
      })
      .finally(function () {
        busy = false;
        send.disabled = false;
        turn.scrollIntoView({ block: "start", behavior: "smooth" });
        input.focus();
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    ask(input.value);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ask(input.value);
    }
  });

  log.addEventListener("click", function (event) {
    var example = event.target.closest(".pa-example");
    if (example) {
      input.value = example.textContent;
      ask(example.textContent);
    }
  });

  // The embedding page (widget.js) asks us to take focus when it opens us, and closes us on Escape.
  window.addEventListener("message", function (event) {
    if (event.source === window.parent && event.data && event.data.type === "pa-widget-opened") input.focus();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && window.parent !== window) window.parent.postMessage({ type: "pa-widget-close" }, "*");
  });
})();
