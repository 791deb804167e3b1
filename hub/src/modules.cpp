#include "modules.hpp"

namespace hub {

void register_modules(App& app) {
  add_api_routes(app);
  add_page_routes(app);
  add_server_routes(app);
  add_gitpull_routes(app);
  add_credential_routes(app);
  add_course_routes(app);
  add_env_routes(app);
}

}  // namespace hub
