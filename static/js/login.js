// A link that needs a login may carry a map view in its #hash. The browser
// keeps it across the redirect to this page, but a form posts without it:
// putting it in the form's address makes the redirect after login inherit it.

const form = document.querySelector(".login-form");
if (form && window.location.hash) {
  form.action = `${form.getAttribute("action")}${window.location.hash}`;
}
