/*
 * Policy Assistant widget. Paste into any page of the school's site:
 *
 *   <script src="https://<assistant host>/widget.js" data-school="<school id>" defer></script>
 *
 * Optional attributes: data-label (button text, default "Ask about our policies"),
 * data-position ("right" or "left", default "right").
 *
 * Adds a floating button that opens the assistant's /widget page in an iframe. The button
 * and panel live in a shadow root, so the school's CSS and ours do not touch each other.
 * No dependencies, nothing loaded from anywhere but the assistant's own host.
 */
(function () {
  "use strict";

  var script =
    document.currentScript || document.querySelector('script[src*="widget.js"][data-school]');
  if (!script) return;
  var school = script.getAttribute("data-school");
  if (!school) {
    console.warn('Policy Assistant widget: add data-school="<school id>" to the <script> tag.');
    return;
  }
  var origin = new URL(script.src, window.location.href).origin;
  var label = script.getAttribute("data-label") || "Ask about our policies";
  var side = script.getAttribute("data-position") === "left" ? "left" : "right";

  var css =
    ":host{all:initial}" +
    ".pa-launcher{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483000;display:inline-flex;align-items:center;gap:8px;" +
    "padding:12px 18px;border:0;border-radius:999px;background:#1d4ed8;color:#fff;font:600 16px/1.2 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;" +
    "box-shadow:0 4px 14px rgba(0,0,0,.25);cursor:pointer}" +
    ".pa-launcher:hover{background:#1e40af}" +
    ".pa-launcher:focus-visible,.pa-close:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}" +
    ".pa-launcher[aria-expanded=true]{display:none}" +
    ".pa-panel{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483001;width:min(400px,calc(100vw - 24px));" +
    "height:min(640px,calc(100vh - 40px));display:flex;flex-direction:column;background:#fff;border-radius:14px;overflow:hidden;" +
    "box-shadow:0 12px 40px rgba(0,0,0,.3);font:16px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
    ".pa-panel[hidden]{display:none}" +
    ".pa-bar{position:absolute;top:6px;right:6px}" +
    ".pa-close{border:0;background:transparent;color:#fff;font-size:26px;line-height:1;width:40px;height:40px;border-radius:8px;cursor:pointer}" +
    ".pa-close:hover{background:rgba(255,255,255,.15)}" +
    ".pa-frame{flex:1;width:100%;border:0;display:block}" +
    ".pa-message h2{margin:0;padding:14px 56px 14px 16px;background:#1d4ed8;color:#fff;font-size:18px}" +
    ".pa-message p{margin:16px;color:#111827}" +
    "@media (max-width:480px){.pa-panel{bottom:0;" + side + ":0;width:100vw;height:100vh;height:100dvh;border-radius:0}}";

  function init() {
    var host = document.createElement("div");
    host.setAttribute("data-policy-assistant", school);
    var root = host.attachShadow({ mode: "open" });

    var style = document.createElement("style");
    style.textContent = css;

    var launcher = document.createElement("button");
    launcher.type = "button";
    launcher.className = "pa-launcher";
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-controls", "pa-panel");
    launcher.textContent = label;

    var panel = document.createElement("div");
    panel.id = "pa-panel";
    panel.className = "pa-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", label);
    panel.hidden = true;

    var bar = document.createElement("div");
    bar.className = "pa-bar";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "pa-close";
    close.setAttribute("aria-label", "Close policy questions");
    close.textContent = "×";
    bar.appendChild(close);
    panel.appendChild(bar);

    var frame = null;
    var message = null;
    var checking = false;

    // Issue 18: before framing, ask the assistant whether this site may show the widget, so a person
    // reads why it is not there instead of the browser's "refused to connect".
    function say(text) {
      if (!message) {
        message = document.createElement("div");
        message.className = "pa-message";
        message.setAttribute("role", "alert");
        var title = document.createElement("h2");
        title.textContent = label;
        message.appendChild(title);
        message.appendChild(document.createElement("p"));
        panel.appendChild(message);
      }
      message.lastChild.textContent = text;
      message.hidden = false;
    }

    function check() {
      if (checking) return;
      checking = true;
      fetch(origin + "/api/widget-status?school=" + encodeURIComponent(school), { credentials: "omit" })
        .then(function (response) {
          return response.json();
        })
        .then(function (answer) {
          if (answer.enabled) {
            if (message) message.hidden = true;
            frameIt();
          } else if (!answer.known) {
            say("The policy assistant does not know the school \u201c" + school + "\u201d. Please tell the school office that its widget is not set up.");
          } else {
            say(
              "The policy assistant is not enabled for this website (" + window.location.origin + "). " +
                "Please contact the school office; the school can add this site to its widget settings."
            );
          }
        })
        .catch(function () {
          say("The assistant is not reachable right now \u2014 please try again or contact the school office.");
        })
        .finally(function () {
          checking = false;
        });
    }

    function frameIt() {
      if (!frame) {
        frame = document.createElement("iframe");
        frame.className = "pa-frame";
        frame.title = "Ask about our policies";
        frame.src = origin + "/widget?school=" + encodeURIComponent(school);
        frame.addEventListener("load", function () {
          frame.contentWindow.postMessage({ type: "pa-widget-opened" }, origin);
        });
        panel.appendChild(frame);
      }
      frame.focus();
      if (frame.contentWindow) frame.contentWindow.postMessage({ type: "pa-widget-opened" }, origin);
    }

    function open() {
      panel.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      if (frame) frameIt();
      else {
        close.focus();
        check();
      }
    }

    function shut() {
      panel.hidden = true;
      launcher.setAttribute("aria-expanded", "false");
      launcher.focus();
    }

    launcher.addEventListener("click", open);
    close.addEventListener("click", shut);
    panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") shut();
    });
    window.addEventListener("message", function (event) {
      if (frame && event.origin === origin && event.source === frame.contentWindow && event.data && event.data.type === "pa-widget-close") {
        shut();
      }
    });

    root.appendChild(style);
    root.appendChild(launcher);
    root.appendChild(panel);
    document.body.appendChild(host);
  }

  if (document.body) init();
  else document.addEventListener("DOMContentLoaded", init);
})();
