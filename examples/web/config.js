// Where the page finds authd. authd must list this page's origin in AUTHD_CORS_ORIGINS and run
// with AUTHD_REFRESH_COOKIE=true; see README.md beside this file.
window.AUTHD_URL = "http://localhost:8080";
