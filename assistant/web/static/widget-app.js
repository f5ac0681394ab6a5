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
  var conversation = 0; // issue 18: bumped by "New conversation", so an answer still on its way is dropped
  var office = JSON.parse(root.dataset.office || "{}");
  var newButton = document.getElementById("pa-new");
  var UNREACHABLE = "The assistant is not reachable right now — please try again or contact the school office";

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

  // Handover (issue 18): the office's or the Designated Safeguarding Lead's mailto:/tel: links.
  var CONTACT_WARNING =
    "You included contact details. Nobody reads or replies to questions asked here, " +
    "so no one will contact you: please get in touch with the school yourself.";

  function link(className, href, text) {
    var a = el("a", className, text);
    a.href = href;
    return a;
  }

  function contactLinks(contact) {
    if (!contact) return null;
    var links = [];
    if (contact.phone) links.push(link("pa-contact-tel", "tel:" + contact.phone.replace(/[^0-9+]/g, ""), "Call " + contact.phone));
    if (contact.email) links.push(link("pa-contact-email", "mailto:" + contact.email, "Email " + contact.email));
    if (contact.url && /^https?:\/\//i.test(contact.url)) {
      var form = link("pa-contact-url", contact.url, "Contact form");
      form.target = "_blank";
      form.rel = "noopener";
      links.push(form);
    }
    if (!links.length) return null;
    var span = el("span", "pa-contact-links");
    links.forEach(function (node, i) {
      if (i) span.appendChild(document.createTextNode(" · "));
      span.appendChild(node);
    });
    if (contact.hours) span.appendChild(el("span", "pa-contact-hours", " (" + contact.hours + ")"));
    return span;
  }

  function safeguardingNode(handover) {
    var dsl = handover.dsl || {};
    var box = el("div", "pa-safeguarding");
    box.setAttribute("role", "note");
    box.setAttribute("aria-label", "Safeguarding");
    box.appendChild(el("p", "pa-safeguarding-head", "This may be a safeguarding concern: please don't wait."));
    var who = el("p", null, "Tell the school's " + (dsl.role || "Designated Safeguarding Lead") + ", who is responsible for keeping children safe. ");
    var links = contactLinks(handover.dsl);
    var office = links ? null : contactLinks(handover.office);
    who.appendChild(document.createTextNode(links ? "Contact them now: " : "Contact the school office now and ask for them" + (office ? ": " : ".")));
    if (links || office) who.appendChild(links || office);
    box.appendChild(who);
    var emergency = el("p", "pa-emergency", "If anyone is in immediate danger, call ");
    emergency.appendChild(link("pa-contact-tel", "tel:" + (handover.emergency || "999"), handover.emergency || "999"));
    emergency.appendChild(document.createTextNode("."));
    box.appendChild(emergency);
    return box;
  }

  function handoverNode(handover) {
    var p = el("p", "pa-handover");
    var links = contactLinks(handover.office);
    if (links) {
      p.appendChild(document.createTextNode("To talk to someone, contact the school office: "));
      p.appendChild(links);
    } else {
      p.textContent = handover.message;
    }
    return p;
  }

  function answerNode(answer) {
    var band = answer.band || "answer";
    var box = el("div", "pa-answer pa-verdict-" + answer.verdict + " pa-band-" + band);
    var handover = answer.handover || null;
    var safeguarding = handover && handover.reason === "safeguarding";
    var text = answer.text;
    if (safeguarding) {
      box.appendChild(safeguardingNode(handover)); // first, before the verdict
      if (text.indexOf(handover.message) === 0) text = text.slice(handover.message.length).trim();
    }
    var head = el("p", "pa-head");
    var badge = el("span", "pa-badge pa-badge-" + answer.verdict, labels[answer.verdict] || answer.verdict);
    head.appendChild(badge);
    // a safeguarding message that cites no clause is not an answer from the policy (render.band_key)
    var noteKey = safeguarding && !(answer.citations || []).length ? "safeguarding" : band;
    var bandText = bandNotes[noteKey] || band;
    if (typeof answer.confidence === "number" && band !== "not_covered") bandText += " · confidence " + Math.round(answer.confidence * 100) + "%";
    head.appendChild(el("span", "pa-confidence pa-confidence-" + band, bandText));
    box.appendChild(head);
    if (text) box.appendChild(el("p", "pa-text", text));
    (answer.notes || []).forEach(function (note) {
      box.appendChild(el("p", "pa-note", note));
    });
    answer.citations.forEach(function (citation) {
      box.appendChild(citationNode(citation));
    });
    if (handover && !safeguarding) box.appendChild(handoverNode(handover));
    if (handover && handover.contact_details) box.appendChild(el("p", "pa-contact-warning", CONTACT_WARNING));
    return box;
  }

  function errorMessage(status, body) {
    if (body && typeof body.message === "string") return body.message;
    if (body && typeof body.detail === "string") return body.detail;
    if (status === 404) return "This school is not set up for questions yet.";
    if (status === 502 || status === 504) return UNREACHABLE + ".";
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
    var asked = conversation;
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
      .catch(function () {
        var error = new Error(UNREACHABLE);
        error.unreachable = true; // fetch failed: no answer from the server at all
        throw error;
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
        if (asked !== conversation) return; // the conversation was cleared while this was on its way
        history.push(question);
        turn.appendChild(answerNode(answer));
        if (window.PAFeedback) turn.appendChild(window.PAFeedback.node(answer, school)); // issue 18: 👍/👎
        status.textContent = "Answer ready: " + (labels[answer.verdict] || answer.verdict);
        input.value = "";
      })
      .catch(function (error) {
        if (asked !== conversation) return;
        var problem = el("div", "pa-answer pa-error");
        var says = el("p", "pa-text", error.message || String(error));
        if (error.unreachable) {
          var links = contactLinks(office);
          says.appendChild(document.createTextNode(links ? ": " : "."));
          if (links) says.appendChild(links);
        }
        problem.appendChild(says);
        turn.appendChild(problem);
        status.textContent = "";
      })
      .finally(function () {
        if (asked !== conversation) return;
        busy = false;
        send.disabled = false;
        turn.scrollIntoView({ block: "start", behavior: "smooth" });
        input.focus();
      });
  }

  // "New conversation" (issue 18): forget the questions sent as history and show the start again.
  var start = log.innerHTML;
  newButton.addEventListener("click", function () {
    conversation += 1;
    history = [];
    busy = false;
    send.disabled = false;
    log.innerHTML = start; // the page's own hint and example buttons, as first served
    input.value = "";
    status.textContent = "New conversation started.";
    input.focus();
  });

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
