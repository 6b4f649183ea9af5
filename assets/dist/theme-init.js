// Purplebook: apply the theme saved by the theme toggle before the first paint,
// so a dark-theme user never sees a light flash. Kept as a plain external file
// because the Content-Security-Policy forbids inline scripts.
(function () {
  try {
    var t = window.localStorage.getItem('purplebook.theme');
    if (t === 'light' || t === 'dark') document.documentElement.setAttribute('data-theme', t);
  } catch (e) {
    /* storage disabled: follow the system preference */
  }
})();
