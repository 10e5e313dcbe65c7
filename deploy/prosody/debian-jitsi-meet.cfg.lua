-- What Roomkeeper needs in a standard Debian jitsi-meet install, for the domain
-- meet.example.org: add these lines to /etc/prosody/conf.avail/meet.example.org.cfg.lua
-- (keep what is already there), then `systemctl restart prosody`.
-- docs/JITSI-SETUP.md explains each step.

-- 1. Once, on the Prosody machine, create the service account:
--      prosodyctl register roomkeeper auth.meet.example.org 'A-LONG-RANDOM-PASSWORD'

-- 2. Prosody 13 only (0.12 behaves this way already): make the components' admins owners
--    of every room, as jitsi-meet's own template for 13 does at the top of this file.
--    Without it, removing a password and ending a meeting are refused. Once, globally:
component_admins_as_room_owners = true

-- 3. Where Prosody finds Roomkeeper's companion module. Copy prosody/mod_roomkeeper.lua
--    from the Roomkeeper release to /usr/local/lib/roomkeeper/prosody/. The jitsi-meet
--    package already sets plugin_paths at the top of this file: add the directory to
--    that list rather than setting it twice.
plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/", "/usr/local/lib/roomkeeper/prosody/" }

-- 4. The conference component: the service account among the admins (Prosody then
--    treats it as owner of every room), and the companion module. The module serves
--    roomkeeper@auth.meet.example.org only; set roomkeeper_accounts for another name.
Component "conference.meet.example.org" "muc"
    admins = { "focus@auth.meet.example.org", "roomkeeper@auth.meet.example.org" }
    modules_enabled = {
        -- ... the modules already listed here stay ...
        "roomkeeper";
    }
    -- roomkeeper_accounts = { "roomkeeper@auth.meet.example.org" }

-- 5. Breakout rooms live on their own component; the same admins there.
Component "breakout.meet.example.org" "muc"
    admins = { "focus@auth.meet.example.org", "roomkeeper@auth.meet.example.org" }
