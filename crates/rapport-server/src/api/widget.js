/* Rapport's survey widget (Rapport's own code, no dependencies).
 *
 * Embed it with a write key:
 *   <script src="https://cx.example.com/widget.js" data-key="WRITE_KEY" data-user-id="u-42" async></script>
 * data-user-id: the signed-in customer (left out: an anonymous id kept in this browser);
 * data-survey: one survey's id (left out: the workspace's widget surveys, first allowed wins);
 * data-api: Rapport's address (left out: where the script came from).
 *
 * It asks POST /v1/widget/eligibility; when the contact rules allow, it shows the survey in a
 * panel (isolated in a shadow root), and posts the answers to POST /v1/widget/answers/{token}.
 * window.__rapportWidget says what happened: asking, shown, hidden (with reason), answered, error.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.dataset.key) { return; }
  var data = script.dataset;
  var api = (data.api || new URL(script.src, location.href).origin).replace(/\/$/, "");
  var status = window.__rapportWidget = { state: "asking" };
  var TEXTS = {
    en: { send: "Send", close: "Close", thanks: "Thank you for your feedback!", required: "Please answer: ",
          low: "Not likely", high: "Very likely", failed: "Your answer could not be sent: " },
    de: { send: "Senden", close: "Schließen", thanks: "Vielen Dank für Ihr Feedback!", required: "Bitte beantworten Sie: ",
          low: "Unwahrscheinlich", high: "Sehr wahrscheinlich", failed: "Ihre Antwort konnte nicht gesendet werden: " }
  };
  var STYLE = ":host{all:initial}" +
    ".panel{position:fixed;right:16px;bottom:16px;z-index:2147483000;width:min(380px,calc(100vw - 32px));max-height:80vh;overflow:auto;" +
    "background:#fff;color:#1f2933;border:1px solid #d9e2ec;border-radius:10px;box-shadow:0 8px 28px rgba(0,0,0,.18);" +
    "font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;padding:16px}" +
    "h2{font-size:16px;margin:0 28px 8px 0}fieldset{border:0;margin:0 0 12px;padding:0}legend{font-weight:600;margin-bottom:6px;padding:0}" +
    ".scale{display:flex;flex-wrap:wrap;gap:4px}.scale button{min-width:30px;padding:6px 0;flex:1;border:1px solid #9aa5b1;border-radius:6px;background:#fff;cursor:pointer;font:inherit}" +
    ".scale button[aria-pressed=true]{background:#2563eb;border-color:#2563eb;color:#fff}.ends{display:flex;justify-content:space-between;font-size:12px;color:#52606d}" +
    "label{display:block;margin:2px 0}textarea{width:100%;box-sizing:border-box;font:inherit;min-height:64px}" +
    ".send{font:inherit;padding:8px 16px;border:0;border-radius:6px;background:#2563eb;color:#fff;cursor:pointer}" +
    ".close{position:absolute;top:8px;right:10px;border:0;background:none;font-size:22px;cursor:pointer;color:#52606d}" +
    ".problem{color:#c81e1e}button:focus-visible,textarea:focus-visible,input:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}";

  function anonymousId() {
    var made = "anon-" + (window.crypto && crypto.randomUUID ? crypto.randomUUID() : Date.now() + "-" + Math.random().toString(16).slice(2));
    try {
      var kept = localStorage.getItem("rapport_anonymous_id");
      if (kept) { return kept; }
      localStorage.setItem("rapport_anonymous_id", made);
    } catch (ignored) { /* storage refused: a new id each page */ }
    return made;
  }

  function call(path, body) {
    return fetch(api + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + data.key },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (json) {
        if (!response.ok) { throw new Error((json.error && json.error.message) || response.statusText); }
        return json;
      });
    });
  }

  function element(name, attributes, children) {
    var node = document.createElement(name);
    Object.keys(attributes || {}).forEach(function (key) {
      if (key === "text") { node.textContent = attributes[key]; } else { node.setAttribute(key, attributes[key]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function range(question) {
    switch (question.type) {
      case "nps": return [0, 10];
      case "csat": return [1, 5];
      case "ces": return [1, 7];
      case "rating": return [1, question.scale];
      default: return null;
    }
  }

  function show(survey, token) {
    var t = TEXTS[survey.language] || TEXTS.en;
    var answers = {};
    var host = element("div", { "data-rapport-widget": survey.id });
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    var panel = element("section", { "class": "panel", role: "dialog", "aria-labelledby": "rapport-title" });
    var form = element("form", { novalidate: "" });
    var problem = element("p", { "class": "problem", role: "alert" });
    var blocks = [];
    root.appendChild(element("style", { text: STYLE }));
    panel.appendChild(element("button", { "class": "close", type: "button", "aria-label": t.close, text: "×" }));
    panel.appendChild(element("h2", { id: "rapport-title", text: survey.name }));

    function refresh() {
      blocks.forEach(function (block) {
        var rule = block.question.showIf;
        var answer = rule && answers[rule.question];
        block.node.hidden = !!rule && !(typeof answer === "number" && answer >= rule.min && answer <= rule.max);
      });
    }

    survey.questions.forEach(function (question) {
      var box = element("fieldset", {}, [element("legend", { text: question.text })]);
      var scale = range(question);
      if (scale) {
        var row = element("div", { "class": "scale", role: "group", "aria-label": question.text });
        for (var score = scale[0]; score <= scale[1]; score += 1) {
          (function (value) {
            var button = element("button", { type: "button", "aria-pressed": "false", name: question.id, value: String(value), text: String(value) });
            button.addEventListener("click", function () {
              answers[question.id] = value;
              row.querySelectorAll("button").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
              refresh();
            });
            row.appendChild(button);
          })(score);
        }
        box.appendChild(row);
        if (question.type === "nps") {
          box.appendChild(element("div", { "class": "ends" }, [element("span", { text: t.low }), element("span", { text: t.high })]));
        }
      } else if (question.type === "single_choice" || question.type === "multiple_choice") {
        var multiple = question.type === "multiple_choice";
        question.options.forEach(function (option) {
          var input = element("input", { type: multiple ? "checkbox" : "radio", name: question.id, value: option });
          input.addEventListener("change", function () {
            if (multiple) {
              var chosen = Array.prototype.slice.call(form.querySelectorAll("input[name='" + question.id + "']:checked"));
              answers[question.id] = chosen.map(function (box) { return box.value; });
              if (!answers[question.id].length) { delete answers[question.id]; }
            } else {
              answers[question.id] = option;
            }
          });
          box.appendChild(element("label", {}, [input, document.createTextNode(" " + option)]));
        });
      } else {
        var area = element("textarea", { name: question.id, "aria-label": question.text, maxlength: "5000" });
        area.addEventListener("input", function () {
          if (area.value.trim()) { answers[question.id] = area.value.trim(); } else { delete answers[question.id]; }
        });
        box.appendChild(area);
      }
      blocks.push({ question: question, node: box });
      form.appendChild(box);
    });
    form.appendChild(problem);
    form.appendChild(element("button", { "class": "send", type: "submit", text: t.send }));
    panel.appendChild(form);
    root.appendChild(panel);
    refresh();

    panel.querySelector(".close").addEventListener("click", function () {
      host.remove();
      status.state = "closed";
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var missing = blocks.filter(function (block) {
        return !block.node.hidden && block.question.required && answers[block.question.id] === undefined;
      }).map(function (block) { return block.question.text; });
      if (missing.length) { problem.textContent = t.required + missing.join("; "); return; }
      var visible = {};
      blocks.forEach(function (block) {
        if (!block.node.hidden && answers[block.question.id] !== undefined) { visible[block.question.id] = answers[block.question.id]; }
      });
      call("/v1/widget/answers/" + encodeURIComponent(token), { answers: visible, channel: data.channel || "web" })
        .then(function (stored) {
          form.replaceWith(element("p", { role: "status", text: stored.thanks || survey.thankYou || t.thanks }));
          status.state = "answered";
        })
        .catch(function (error) { problem.textContent = t.failed + error.message; status.state = "error"; status.error = error.message; });
    });
    document.body.appendChild(host);
    status.state = "shown";
    status.survey = survey.id;
  }

  var who = data.userId ? { userId: data.userId } : { anonymousId: anonymousId() };
  if (data.survey) { who.survey = data.survey; }
  call("/v1/widget/eligibility", who)
    .then(function (answer) {
      if (answer.show) { show(answer.survey, answer.token); } else { status.state = "hidden"; status.reason = answer.reason; }
    })
    .catch(function (error) { status.state = "error"; status.error = error.message; });
})();
