"""The served app's HTTP edge (``imagen-nb serve``): who may reach it and what it answers.

- :mod:`.hosts`: the only Host and Origin values the app answers to (DNS rebinding and
  cross-site websockets are refused);
- :mod:`.login`: the password login, with :mod:`.sessions` (server-side sessions, throttled
  wrong passwords) so that a logout really ends the session, and :mod:`.clients` (who a request
  comes from: its address and networks, ``X-Forwarded-For`` only from a trusted proxy);
- :mod:`.components`: Panel's ``/components/`` asset route, limited to classes already loaded
  (it never imports a module) and behind the login;
- :mod:`.headers`: frame, content-security and related headers on every response;
- :mod:`.panel_plugin`: ``panel serve … --plugins imagen_nb.web.panel_plugin``, the same
  ``/components/`` protection for Panel's own server (the studio notebook).

Nothing here knows about studios or panels: :mod:`imagen_nb.app` wires it to the Panel server.
"""
