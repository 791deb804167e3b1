#pragma once
// Every module of the hub adds its routes and hooks here, once, at start-up.
namespace hub {

class App;

// Calls each module's add_*_routes(app), in order (hub/src/modules.cpp).
void register_modules(App& app);

// One declaration per module; each lives in the module's own .cpp.
void add_api_routes(App& app);    // hub/src/api/api_routes.cpp: /hub/api users, tokens, info
void add_page_routes(App& app);   // hub/src/pages/page_routes.cpp: login, signup, home, admin, static files
void add_server_routes(App& app);  // hub/src/servers/servers.cpp: spawner, /user/ proxy, culler, their pages
void add_gitpull_routes(App& app);  // hub/src/gitpull/gitpull_routes.cpp: git-pull links, progress page, sync events
void add_credential_routes(App& app);  // hub/src/courses/credential_routes.cpp: stored git credentials (admins)
void add_course_routes(App& app);      // hub/src/courses/course_routes.cpp: courses, link generator, QR, cache
void add_env_routes(App& app);    // hub/src/env/env_routes.cpp: /hub/admin/packages, /hub/api/env/...

}  // namespace hub
