// The end-user chat page: streams answers from the Service API with a short-lived web token.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("chat-config").textContent);
  var log = document.getElementById("chat-log");
  var form = document.getElementById("chat-form");
  var queryBox = document.getElementById("chat-query");
  var sendButton = document.getElementById("chat-send");
  var inputsForm = document.getElementById("chat-inputs");
  var storageKey = "dify-chat:" + config.app_id + ":" + config.user + ":conversation";
  var isChat = ["chat", "agent-chat", "advanced-chat"].indexOf(config.mode) >= 0;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function bubble(kind, text) {
    var node = el("div", "bubble " + kind, text || "");
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
    return node;
  }

  // --- the app's input form (user_input_form) -------------------------------------------
  var fields = [];
  (config.user_input_form || []).forEach(function (item) {
    var type = Object.keys(item)[0];
    var control = item[type] || {};
    if (["file", "file-list"].indexOf(type) >= 0) return; // files are not offered here
    var label = el("label", "", control.label || control.variable);
    var input;
    if (type === "select") {
      input = el("select");
      (control.options || []).forEach(function (option) {
        var opt = el("option", "", option);
        opt.value = option;
        input.appendChild(opt);
      });
    } else if (type === "paragraph" || type === "json_object") {
      input = el("textarea");
      input.rows = 3;
    } else if (type === "checkbox") {
      input = el("input");
      input.type = "checkbox";
    } else {
      input = el("input");
      input.type = type === "number" ? "number" : "text";
      if (control.max_length) input.maxLength = control.max_length;
    }
    if (control.default !== undefined && control.default !== null && type !== "checkbox") {
      input.value = control.default;
    }
    input.required = !!control.required;
    label.appendChild(input);
    inputsForm.appendChild(label);
    fields.push({ type: type, name: control.variable, input: input });
  });
  inputsForm.hidden = fields.length === 0;

  function collectInputs() {
    var inputs = {};
    fields.forEach(function (field) {
      var value = field.input.value;
      if (field.type === "checkbox") value = field.input.checked;
      else if (field.type === "number") value = value === "" ? null : Number(value);
      else if (field.type === "json_object") {
        try { value = value ? JSON.parse(value) : null; } catch (e) { value = null; }
      }
      if (value !== null && value !== "") inputs[field.name] = value;
    });
    return inputs;
  }

  // --- conversation start: opening statement + suggested questions ---------------------
  // {{variable}} in the opening statement shows the form's value (as Dify's web app does).
  function withInputs(template) {
    var values = collectInputs();
    return template.replace(/\{\{([a-zA-Z_][a-zA-Z0-9_]*)\}\}/g, function (whole, name) {
      return name in values ? String(values[name]) : whole;
    });
  }

  var opening = null;
  function greet() {
    log.textContent = "";
    opening = config.opening_statement ? bubble("bot", withInputs(config.opening_statement)) : null;
    var questions = config.suggested_questions || [];
    if (questions.length) {
      var box = el("div", "suggested");
      questions.forEach(function (question) {
        var button = el("button", "", question);
        button.type = "button";
        button.addEventListener("click", function () { send(question); });
        box.appendChild(button);
      });
      log.appendChild(box);
    }
  }

  function showSources(node, resources) {
    if (!resources || !resources.length) return;
    var details = el("details", "sources");
    details.appendChild(el("summary", "", "Sources (" + resources.length + ")"));
    var list = el("ol");
    resources.forEach(function (r) {
      var title = (r.document_name || r.dataset_name || "source");
      var item = el("li");
      item.appendChild(el("strong", "", title));
      if (r.content) item.appendChild(el("div", "", r.content.slice(0, 300)));
      list.appendChild(item);
    });
    details.appendChild(list);
    node.appendChild(details);
  }

  // --- the Service API call, streamed ---------------------------------------------------
  function refreshToken() {
    return fetch(config.token_url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) { config.token = data.token; config.user = data.user; });
  }

  function getJSON(path, retried) {
    return fetch(config.api_base + path, {
      headers: { "Authorization": "Bearer " + config.token },
    }).then(function (response) {
      if (response.status === 401 && !retried) {
        return refreshToken().then(function () { return getJSON(path, true); });
      }
      return response.ok ? response.json() : null;
    });
  }

  // --- an earlier conversation of this visitor: shown again after a reload --------------
  function loadHistory() {
    var conversationId = localStorage.getItem(storageKey);
    if (!isChat || !conversationId) return Promise.resolve();
    var path = "/messages?limit=100&conversation_id=" + encodeURIComponent(conversationId) +
      "&user=" + encodeURIComponent(config.user);
    return getJSON(path, false).then(function (page) {
      if (!page) { localStorage.removeItem(storageKey); return; }  // gone: start afresh
      page.data.forEach(function (message) {
        bubble("user", message.query);
        var answer = bubble(message.status === "error" ? "error" : "bot",
                            message.answer || message.error || "");
        showSources(answer, message.retriever_resources);
      });
    }).catch(function () { /* the page still works without its history */ });
  }

  function request(path, body, retried) {
    return fetch(config.api_base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + config.token },
      body: JSON.stringify(body),
    }).then(function (response) {
      if (response.status === 401 && !retried) {
        return refreshToken().then(function () {
          body.user = config.user;
          return request(path, body, true);
        });
      }
      return response;
    });
  }

  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) return;
        buffer += decoder.decode(chunk.value, { stream: true });
        var parts = buffer.split("\n\n");
        buffer = parts.pop();
        parts.forEach(function (part) {
          part.split("\n").forEach(function (line) {
            if (line.indexOf("data:") === 0) {
              try { onEvent(JSON.parse(line.slice(5))); } catch (e) { /* ignore */ }
            }
          });
        });
        return pump();
      });
    }
    return pump();
  }

  function send(query) {
    if (!query.trim()) return;
    bubble("user", query);
    var answer = bubble("bot", "…");
    var text = "";
    var path, body;
    var conversationId = localStorage.getItem(storageKey) || "";
    if (isChat) {
      path = "/chat-messages";
      body = { inputs: collectInputs(), query: query, response_mode: "streaming",
               conversation_id: conversationId, user: config.user };
    } else if (config.mode === "completion") {
      path = "/completion-messages";
      var inputs = collectInputs();
      inputs.query = query;
      body = { inputs: inputs, response_mode: "streaming", user: config.user };
    } else {
      path = "/workflows/run";
      var workflowInputs = collectInputs();
      if (!("query" in workflowInputs)) workflowInputs.query = query;
      body = { inputs: workflowInputs, response_mode: "streaming", user: config.user };
    }
    sendButton.disabled = true;
    function write(value) { text = value; answer.textContent = text || "…"; }
    request(path, body, false).then(function (response) {
      if (!response.ok) {
        return response.json().then(function (error) {
          answer.className = "bubble error";
          answer.textContent = error.message || ("Error " + response.status);
        });
      }
      return readEvents(response, function (event) {
        if (event.event === "message" || event.event === "agent_message") write(text + event.answer);
        else if (event.event === "message_replace") write(event.answer);
        else if (event.event === "text_chunk") write(text + event.data.text);
        else if (event.event === "workflow_finished" && !text && event.data) {
          write(event.data.error || JSON.stringify(event.data.outputs || {}, null, 2));
        } else if (event.event === "message_end") {
          if (event.conversation_id) localStorage.setItem(storageKey, event.conversation_id);
          showSources(answer, (event.metadata || {}).retriever_resources);
        } else if (event.event === "error") {
          answer.className = "bubble error";
          answer.textContent = event.message;
        }
        if (event.conversation_id && isChat) localStorage.setItem(storageKey, event.conversation_id);
      });
    }).catch(function (error) {
      answer.className = "bubble error";
      answer.textContent = String(error);
    }).then(function () { sendButton.disabled = false; });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var query = queryBox.value;
    queryBox.value = "";
    send(query);
  });
  queryBox.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  document.getElementById("chat-new").addEventListener("click", function () {
    localStorage.removeItem(storageKey);
    greet();
  });
  inputsForm.addEventListener("input", function () {
    if (opening && !log.querySelector(".bubble.user")) {
      opening.textContent = withInputs(config.opening_statement);
    }
  });
  greet();
  loadHistory();
})();
