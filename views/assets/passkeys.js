// Passkey forms (form[data-passkey]): fetch the options from the server, let the browser's
// WebAuthn API create or use a passkey, put its answer (JSON) into the form's hidden
// `credential` field and submit the form as usual, so the server's redirects and pages work
// as for any other form. Without WebAuthn the forms stay hidden.
(function () {
  'use strict';

  function toBuffer(base64url) {
    const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let binary = '';
    for (let i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function withCredentialIds(list) {
    return (list || []).map(function (descriptor) {
      return Object.assign({}, descriptor, { id: toBuffer(descriptor.id) });
    });
  }

  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      user: Object.assign({}, json.user, { id: toBuffer(json.user.id) }),
      excludeCredentials: withCredentialIds(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    const options = Object.assign({}, json, { challenge: toBuffer(json.challenge) });
    if (json.allowCredentials) options.allowCredentials = withCredentialIds(json.allowCredentials);
    return options;
  }

  function registrationJSON(credential) {
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        attestationObject: toBase64url(response.attestationObject),
        transports: typeof response.getTransports === 'function' ? response.getTransports() : [],
      },
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
    };
  }

  function authenticationJSON(credential) {
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        authenticatorData: toBase64url(response.authenticatorData),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : undefined,
      },
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
    };
  }

  /** The message for a failed ceremony: the user closed the prompt, the passkey exists already, or anything else. */
  function messageFor(form, error) {
    if (error && error.name === 'NotAllowedError') return form.dataset.errorCancelled;
    if (error && error.name === 'InvalidStateError') return form.dataset.errorExists;
    return form.dataset.errorFailed;
  }

  async function fetchOptions(form) {
    const body = new URLSearchParams({ _csrf: form.elements.namedItem('_csrf').value });
    const response = await fetch(form.dataset.options, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    });
    if (!response.ok) throw new Error('options ' + response.status);
    return response.json();
  }

  function attach(form) {
    const status = form.querySelector('[data-passkey-status]');
    const button = form.querySelector('button[type="submit"]');
    const say = function (text) {
      if (status) status.textContent = text;
    };
    form.hidden = false;
    form.addEventListener('submit', async function (event) {
      event.preventDefault();
      button.disabled = true;
      say(form.dataset.waiting);
      try {
        const options = await fetchOptions(form);
        const answer =
          form.dataset.passkey === 'create'
            ? registrationJSON(await navigator.credentials.create({ publicKey: creationOptions(options) }))
            : authenticationJSON(await navigator.credentials.get({ publicKey: requestOptions(options) }));
        form.elements.namedItem('credential').value = JSON.stringify(answer);
        say('');
        form.submit();
      } catch (error) {
        button.disabled = false;
        say(messageFor(form, error));
        button.focus();
      }
    });
  }

  const forms = document.querySelectorAll('form[data-passkey]');
  if (!window.PublicKeyCredential || !navigator.credentials) {
    document.querySelectorAll('[data-passkey-unsupported]').forEach(function (hint) {
      hint.hidden = false;
    });
    return;
  }
  forms.forEach(attach);
})();
