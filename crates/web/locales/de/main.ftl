app-name = Roomkeeper
app-tagline = Behalten Sie die Kontrolle über Ihre Jitsi-Meet-Räume, wenn es darauf ankommt.
nav-home = Start
nav-profile = Profil
nav-admin-users = Benutzer
nav-logout = Abmelden
nav-skip = Zum Inhalt springen
lang-switch = Sprache
lang-en = English
lang-de = Deutsch

login-title = Anmelden
login-intro = Mit Roomkeeper registrieren Lehrende ihre Jitsi-Meet-Räume. In einer laufenden Sitzung Ihres Raums sehen Sie, wer Moderator ist, können Moderatorrechte entziehen, ein gesetztes Passwort entfernen und Ihre Aufzeichnungen herunterladen.
login-username = Benutzername
login-password = Passwort
login-submit = Anmelden
login-failed = Benutzername oder Passwort falsch.
login-throttled = Zu viele Fehlversuche. Bitte warten Sie { $minutes } Minuten und versuchen Sie es dann erneut.
login-with = Anmelden mit { $provider }
login-local = Oder mit einem Roomkeeper-Passwort
oidc-unreachable = { $provider } ist gerade nicht erreichbar. Versuchen Sie es in einer Minute noch einmal oder melden Sie sich anders an.
oidc-state-invalid = Diese Anmeldung wurde schon verwendet, hat länger als 10 Minuten gedauert oder wurde in einem anderen Browser oder Tab begonnen. Bitte beginnen Sie neu.
oidc-provider-refused = { $provider } hat die Anmeldung nicht abgeschlossen: { $reason }
oidc-token-refused = Der Antwort von { $provider } konnte nicht vertraut werden (Signatur, Aussteller, Empfänger, Gültigkeit oder Nonce stimmten nicht), daher wurden Sie nicht angemeldet. Bitte beginnen Sie neu; wenn es wieder passiert, wenden Sie sich an Ihre Administration.
oidc-no-username = { $provider } hat uns keinen verwendbaren Benutzernamen für Sie genannt, daher wurden Sie nicht angemeldet. Bitte wenden Sie sich an Ihre Administration.
oidc-name-taken = Der Benutzername { $username } gehört hier zu einem anderen Konto. Bitte wenden Sie sich an eine Administratorin oder einen Administrator.
oidc-disabled = Ihr Roomkeeper-Konto ist gesperrt. Bitte wenden Sie sich an eine Administratorin oder einen Administrator.

home-title = Ihre Räume
home-empty-title = Sie besitzen noch keine Räume.
home-empty-body = Jitsi-Meet macht die erste Person in einer Sitzung zum Moderator. Kommt eine Studentin vor Ihnen, kann sie Ihre Vorlesung mit einem Passwort sperren. Räume, die Sie hier registrieren, bleiben unter Ihrer Kontrolle: Sie können Moderatorrechte entziehen, Passwörter entfernen und Aufzeichnungen herunterladen, ohne in der Sitzung zu sein.
home-empty-next = Beantragen Sie zuerst den Raum, in dem Sie lehren. Die Administration entscheidet; die Antwort sehen Sie hier.

profile-title = Ihr Profil
profile-account = Konto
profile-username = Benutzername
profile-display-name = Name
profile-role = Rolle
role-admin = Administrator
role-user = Benutzer
profile-must-change = Bitte wählen Sie ein neues Passwort, bevor Sie fortfahren. Das verwendete war ein Einmalpasswort.
profile-password = Passwort ändern
profile-password-current = Aktuelles Passwort
profile-password-new = Neues Passwort
profile-password-confirm = Neues Passwort wiederholen
profile-password-help = Mindestens 12 Zeichen. Einige ungewöhnliche Wörter ergeben ein gutes Passwort.
profile-password-submit = Passwort ändern
profile-password-changed = Ihr Passwort wurde geändert. Andere Sitzungen Ihres Kontos wurden abgemeldet.
profile-password-wrong = Das aktuelle Passwort stimmt nicht.
profile-password-mismatch = Die beiden neuen Passwörter sind nicht gleich.
profile-password-too-short = Das neue Passwort braucht mindestens 12 Zeichen.
profile-password-too-long = Das neue Passwort darf höchstens 1024 Zeichen haben.
profile-language = Sprache
profile-language-help = Roomkeeper verwendet die Sprache Ihres Browsers, bis Sie hier eine wählen.
profile-language-submit = Sprache speichern
profile-tokens = API-Tokens
profile-tokens-help = Skripte können Roomkeepers API mit einem persönlichen Token statt Ihres Passworts nutzen. Wer das Token hat, handelt in Ihrem Namen: Geben Sie jedem Skript ein eigenes und widerrufen Sie es, wenn das Skript nicht mehr gebraucht wird.
profile-tokens-empty = Sie haben keine API-Tokens.
profile-token-name = Name des neuen Tokens
profile-token-name-help = Zum Beispiel „Kursportal“ oder „Backup-Skript“.
profile-token-create = Token erstellen
profile-token-created = Ihr neues Token. Kopieren Sie es jetzt: Es wird nicht noch einmal angezeigt.
profile-token-created-at = Erstellt
profile-token-last-used = Zuletzt benutzt
profile-token-never = nie
profile-token-revoke = Widerrufen
profile-token-name-invalid = Geben Sie dem Token einen Namen mit 1 bis 100 Zeichen.

admin-users-title = Benutzer
admin-users-help = Konten, die sich bei Roomkeeper anmelden können. Ein deaktiviertes Konto wird sofort überall abgemeldet.
admin-users-add = Lokales Konto anlegen
admin-users-username = Benutzername
admin-users-display-name = Name (optional)
admin-users-make-admin = Administrator
admin-users-create = Konto anlegen
admin-users-created = Konto { $username } angelegt. Geben Sie der Person dieses Einmalpasswort; sie muss es bei der ersten Anmeldung ändern:
admin-users-reset = Neues Einmalpasswort
admin-users-reset-done = Neues Einmalpasswort für { $username } (muss bei der Anmeldung geändert werden):
admin-users-col-user = Benutzer
admin-users-col-role = Rolle
admin-users-col-status = Status
admin-users-col-actions = Aktionen
admin-users-active = Aktiv
admin-users-disabled = Deaktiviert
admin-users-disable = Deaktivieren
admin-users-enable = Aktivieren
admin-users-grant-admin = Zum Administrator machen
admin-users-revoke-admin = Administratorrechte entziehen
admin-users-you = (Sie)
admin-users-last-admin = Der letzte aktive Administrator kann diese Rolle nicht verlieren und nicht deaktiviert werden.
username-invalid = Ein Benutzername hat 1 bis 64 Zeichen: Buchstaben a-z, Ziffern und . _ - @
admin-users-exists = Dieser Benutzername ist bereits vergeben.

error-title = Etwas ist schiefgegangen
error-not_found = Diese Seite gibt es nicht, oder sie ist nicht für Sie bestimmt.
error-forbidden = Das dürfen Sie nicht.
error-cross_site = Diese Anfrage kam von einer anderen Website und wurde abgelehnt. Gehen Sie zurück, laden Sie die Seite neu und versuchen Sie es erneut.
error-internal = Bei uns ist etwas schiefgegangen. Bitte versuchen Sie es erneut; wenn es wieder passiert, wenden Sie sich an Ihre Administration.
error-unavailable = Ein Dienst, den Roomkeeper braucht, ist gerade nicht erreichbar. Bitte versuchen Sie es in einer Minute erneut.
error-bad_request = Die Anfrage war unverständlich.
error-back-home = Zurück zur Startseite

request-button = Raum beantragen
notice-approved = Ihr Antrag für { $room } wurde genehmigt. Der Raum gehört Ihnen.
notice-rejected = Ihr Antrag für { $room } wurde abgelehnt.
notice-dismiss = Ausblenden
home-rooms = Ihre Räume
home-no-rooms-yet = Noch gehört Ihnen kein Raum. Ihre Anträge stehen unten.
role-owner = Sie sind Eigentümer
role-co-owner-of = Mitverwaltung (Eigentümer: { $owner })
room-join = Sitzung betreten
home-requests = Ihre letzten Anträge
home-all-requests = Alle Ihre Anträge
status-pending = Wartet auf Genehmigung
status-approved = Genehmigt
status-rejected = Abgelehnt
status-withdrawn = Zurückgezogen
pager-label = Seiten
pager-previous = Vorige Seite
pager-next = Nächste Seite
pager-position = Seite { $page } von { $pages }

request-title = Raum beantragen
request-intro = Registrieren Sie einen Jitsi-Meet-Raum, den Sie für die Lehre nutzen. Sobald er Ihnen gehört, können Sie in einer laufenden Sitzung die Kontrolle übernehmen: sehen, wer Moderator ist, Moderatorrechte entziehen, ein gesetztes Passwort entfernen.
request-room = Raumname oder Sitzungslink
request-room-help = Geben Sie den Namen ein, wie er am Ende des Sitzungslinks steht, oder fügen Sie den ganzen Link ein. Groß- und Kleinschreibung und Leerzeichen spielen keine Rolle: Jitsi ignoriert sie auch.
request-room-example = Beispiel: { $url }
request-reason = Begründung
request-reason-help = Die Administration kennt Sie vielleicht nicht. Schreiben Sie, wer Sie sind und wofür der Raum ist, z. B. „Vorlesung Logik I, Wintersemester, Prof. Beispiel“. Wenn Sie mehrere Veranstaltungen mit gemeinsamem Präfix haben (beispiel-logik, beispiel-seminar), erwähnen Sie es: Dann können alle künftigen Räume mit diesem Präfix auf einmal genehmigt werden.
request-co-owners = Mitverwaltende (optional)
co-owners-help = Benutzernamen von Kolleginnen und Kollegen, die in diesem Raum dieselben Rechte bekommen (Moderationskontrolle, Aufzeichnungen), durch Kommas getrennt. Auch Personen, die sich noch nie angemeldet haben, können genannt werden.
request-submit = Antrag senden
requests-title = Ihre Anträge
requests-empty = Sie haben noch keinen Raum beantragt.
requests-auto = sofort genehmigt durch Ihr Muster { $pattern }
requests-open-room = Raum öffnen
requests-withdraw = Zurückziehen

room-facts = Über diesen Raum
room-jitsi-name = Name in Jitsi
room-link = Sitzungslink
room-owner = Eigentümer
room-co-owners = Mitverwaltende
room-none = keine
room-created = Registriert
room-co-owners-edit = Mitverwaltende
room-co-owners-explain = Mitverwaltende haben in diesem Raum dieselben Rechte wie der Eigentümer: Sie können die Kontrolle über eine laufende Sitzung übernehmen und die Aufzeichnungen ansehen. Nur der Eigentümer und die Administration ändern diese Liste. Wer entfernt wird, verliert den Zugriff mit dem nächsten Klick.
room-co-owners-save = Mitverwaltende speichern
room-transfer = Raum jemand anderem geben
room-transfer-to = Neuer Eigentümer (Benutzername)
room-transfer-help = Der neue Eigentümer bekommt alle Rechte; Sie verlieren Ihre, außer er trägt Sie als Mitverwaltende ein.
room-transfer-submit = Raum übertragen
room-release = Raum freigeben
room-release-help = Roomkeeper vergisst, dass dieser Raum Ihnen gehört. Der Raum funktioniert in Jitsi weiter wie bisher, aber niemand kann hier die Kontrolle übernehmen, bis ihn jemand neu registriert. Sein Verlauf bleibt erhalten.
room-release-confirm = Ja, diesen Raum freigeben
room-release-submit = Raum freigeben
room-history = Verlauf
history-empty = Bisher ist nichts geschehen.
history-system = Roomkeeper
audit-request = Beantragt
audit-auto_approve = Durch Muster genehmigt
audit-withdraw = Antrag zurückgezogen
audit-approve = Genehmigt
audit-reject = Abgelehnt
audit-pattern_add = Muster hinzugefügt
audit-pattern_remove = Muster entfernt
audit-co_owners = Mitverwaltende geändert
audit-transfer = Übertragen
audit-release = Freigegeben

queue-title = Raumanträge
queue-help = Die ältesten zuerst. Prüfen Sie die Begründung: Die Person kann Ihnen fremd sein. Eine Genehmigung mit Muster genehmigt auch die künftigen passenden Anträge dieser Person.
queue-filter = Anträge anzeigen
queue-empty = Hier sind keine Anträge.
queue-bulk-help = Haken Sie unten Anträge an und genehmigen oder lehnen Sie sie gemeinsam ab.
queue-message = Nachricht an die antragstellende Person
queue-approve-selected = Angehakte genehmigen
queue-reject-selected = Angehakte ablehnen
queue-select = Auswählen
queue-requester = Beantragt von
queue-asked = Beantragt am
queue-their-rooms = Ihre Räume
queue-their-patterns = Ihre Muster
queue-message-optional = Nachricht an die antragstellende Person (optional)
queue-pattern = Künftige passende Anträge ebenfalls genehmigen (optional)
queue-pattern-help = Ein Muster wie beispielperson-* ; * steht für beliebigen Text, ? für ein Zeichen. Leer lassen, um nur diesen Raum zu genehmigen.
queue-approve = Genehmigen
queue-reject-message = Grund der Ablehnung (die Person sieht ihn)
queue-reject = Ablehnen
queue-conflict-registered = Dieser Raum ist bereits für { $owner } registriert.
queue-conflict-pattern = Das Muster { $pattern } von { $user } passt ebenfalls auf diesen Raum.
queue-reject-needs-message = Schreiben Sie der Person, warum der Antrag abgelehnt wird.

rooms-title = Alle Räume
rooms-search = Nach Raum oder Eigentümer suchen
rooms-search-submit = Suchen
rooms-count = Gefundene Räume: { $count }
rooms-empty = Kein Raum passt.
rooms-col-room = Raum
rooms-col-activity = Letzte Aktivität

patterns-title = Muster
patterns-help = Anträge einer Person für Räume, deren Name zu einem ihrer Muster passt, werden sofort genehmigt. Ein Muster gibt niemandem einen Raum, der bereits registriert ist.
patterns-add = Einer Person ein Muster geben
patterns-pattern = Muster
patterns-add-submit = Muster hinzufügen
patterns-empty = Noch hat niemand ein Muster.
patterns-list = Vergebene Muster
patterns-matches = Passt auf { $rooms } registrierte Räume und { $requests } wartende Anträge
patterns-overlap = Überschneidet sich mit { $pattern } von { $user }
patterns-remove = Entfernen

history-title = Verlauf
history-help = Jede Änderung an Räumen, Anträgen und Mustern: wer, wann, von wo. Hier kann nichts geändert oder gelöscht werden.

disable-title = Konto deaktivieren
disable-heading = { $username } deaktivieren
disable-owns = Diese Person besitzt { $count } Räume. Nach der Deaktivierung könnte sie niemand mehr verwalten; entscheiden Sie daher zuerst, was mit ihnen geschieht:
disable-choose = Die Räume
disable-transfer = Einer anderen Person geben
disable-release = Freigeben
disable-submit = Konto deaktivieren
disable-transfer-needs-user = Nennen Sie die Person, die die Räume bekommen soll (nicht die zu deaktivierende).

nav-admin-requests = Anträge
nav-pending = { $count } warten
nav-admin-rooms = Räume
nav-admin-patterns = Muster
nav-admin-audit = Verlauf
nav-admin-jitsi = Jitsi

flash-submitted = Ihr Antrag wurde gesendet. Die Entscheidung sehen Sie hier und auf Ihrer Startseite.
flash-withdrawn = Der Antrag wurde zurückgezogen.
flash-co-owners = Die Mitverwaltenden wurden gespeichert.
flash-transferred = Der Raum hat einen neuen Eigentümer.
flash-released = Der Raum wurde freigegeben.
flash-approved = Der Antrag wurde genehmigt.
flash-rejected = Der Antrag wurde abgelehnt.
flash-decided = Die angehakten Anträge wurden entschieden.

error-invalid_room = Jitsi kann diesen Raum nicht ansprechen.
error-invalid_reason = Bitte geben Sie eine Begründung an.
error-invalid_username = Ein Benutzername ist ungültig.
error-invalid_pattern = Das Muster ist ungültig.
error-invalid_message = Die Nachricht ist zu lang.
error-room_taken = Dieser Raum ist bereits registriert.
error-already_decided = Dieser Antrag wurde bereits entschieden oder zurückgezogen.

mail-new-request-subject = Raumantrag: { $room } von { $requester }
mail-new-request-body =
    { $requester } beantragt den Raum { $room }.

    Begründung:
    { $reason }

    Hier genehmigen oder ablehnen: { $link }
mail-approved-subject = Ihr Raum { $room } ist genehmigt
mail-approved-body =
    Ihr Antrag für den Raum { $room } wurde genehmigt. Der Raum gehört jetzt Ihnen.

    { $message }

    Roomkeeper öffnen: { $link }
mail-rejected-subject = Ihr Antrag für { $room } wurde abgelehnt
mail-rejected-body =
    Ihr Antrag für den Raum { $room } wurde abgelehnt.

    { $message }

    Roomkeeper öffnen: { $link }
profile-email = E-Mail-Adresse
profile-email-help = Roomkeeper schreibt hierhin, wenn die Administration über Ihre Anträge entscheidet (Administratoren erfahren hier auch von neuen Anträgen). Leer lassen für keine E-Mails.
profile-email-submit = E-Mail-Adresse speichern
profile-email-invalid = Das ist keine E-Mail-Adresse.
profile-email-saved = Ihre E-Mail-Adresse wurde gespeichert.
admin-users-search = Nach Benutzername oder Name suchen
detail-reason = Begründung
detail-message = Nachricht
detail-pattern = Muster
detail-co_owners = Mitverwaltende
detail-before = Vorher
detail-after = Nachher
detail-from = Von
detail-to = An
detail-owner = Eigentümer
audit-grant_moderator = Zum Moderator gemacht
audit-revoke_moderator = Moderatorrechte entzogen
audit-remove_password = Passwort entfernt
audit-kick = Aus der Sitzung entfernt
audit-end_meeting = Sitzung beendet
detail-participant = Teilnehmende Person
detail-participant_name = Name
meeting-title = Laufende Sitzung
meeting-none = In diesem Raum läuft gerade keine Sitzung.
meeting-open = Der Raum hat kein Passwort: Alle mit dem Link können teilnehmen.
meeting-locked = Jemand hat diese Sitzung mit einem Passwort gesperrt.
meeting-locked-help = In Jitsi kann nur ein Moderator ein Passwort setzen. Wenn Sie es entfernen, ist der Raum wieder für alle mit dem Link offen; entziehen Sie zuerst der Person, die es gesetzt hat, die Moderatorrechte, sonst kann sie ihn erneut sperren.
meeting-remove-password = Passwort entfernen
meeting-empty = Niemand ist in der Sitzung.
meeting-moderator-help = Moderatoren können stummschalten, Personen entfernen, den Raum sperren und Aufzeichnungen starten. Jitsi macht die erste Person in der Sitzung zum Moderator und wählt keinen neuen, wenn Sie die Rechte entziehen: Geben Sie sie daher der richtigen Person.
meeting-moderator = Moderator
meeting-participant-id = Teilnehmer-ID
meeting-last-moderator = Einziger Moderator; stattdessen Moderator wird
meeting-nobody = niemand
meeting-revoke = Moderatorrechte entziehen
meeting-grant = Zum Moderator machen
meeting-kick = Aus der Sitzung entfernen
meeting-end-confirm = Ja, die Sitzung für alle beenden
meeting-end = Sitzung beenden
meeting-refresh = Aktuellen Stand anzeigen
flash-meeting = Erledigt. Die Sitzung sieht jetzt so aus wie angezeigt.
flash-meeting-ended = Die Sitzung wurde beendet.
meeting-live-pushed = Dieser Abschnitt zeigt Änderungen an der Sitzung, sobald sie geschehen.
meeting-live-polled = Dieser Abschnitt fragt die Sitzung jede Sekunde ab. Dem Jitsi-Server fehlt die Erweiterung von Roomkeeper: Personen erscheinen deshalb mit Teilnehmer-ID statt mit Namen, und „Aus der Sitzung entfernen“ sperrt sie nur kurz – sie können wieder beitreten.
meeting-joined = seit { $time }

jitsi-title = Jitsi-Server
jitsi-help = Die Jitsi-Installationen, die Roomkeeper steuert, wie in [[jitsi.shards]] eingerichtet. Roomkeeper hält zu jeder eine Verbindung und verbindet sich selbst neu.
jitsi-none = Es ist kein Jitsi-Server eingerichtet, daher können Sitzungen weder gezeigt noch gesteuert werden. docs/JITSI-SETUP.md erklärt, wie man einen hinzufügt.
jitsi-servers = Verbindungen
jitsi-online = Verbunden
jitsi-offline = Nicht verbunden
jitsi-offline-help = Roomkeeper erreicht diesen Server gerade nicht und versucht es weiter. Sitzungen darauf lassen sich erst wieder steuern, wenn er zurück ist.
jitsi-module = Erweiterung geladen
jitsi-no-module = Erweiterung fehlt
jitsi-no-module-help = Ohne das Prosody-Modul von Roomkeeper (prosody/mod_roomkeeper.lua) erscheinen Personen mit Teilnehmer-ID, Räume werden jede Sekunde abgefragt statt Änderungen gemeldet zu bekommen, und Entfernen ist eine kurze Sperre.
jitsi-followed = Gerade verfolgte Räume: { $count }

## Recordings
recordings-title = Aufzeichnungen
recordings-none = Noch keine Aufzeichnungen dieses Raums. Wenn jemand hier eine Besprechung aufzeichnet, erscheint die Aufzeichnung wenige Sekunden nach ihrem Ende.
recording-title = Aufzeichnung
recording-play = Abspielen
recording-download = Herunterladen
recording-back = Zurück zum Raum
recording-participants = Teilnehmende
recording-deleted-at = Wird am { $date } automatisch gelöscht.
recording-share = Freigabelink
recording-share-help = Mit einem Link kann jede Person, die ihn hat, diese Aufzeichnung ohne Anmeldung ansehen und herunterladen, bis er abläuft oder Sie ihn widerrufen. Jede Nutzung wird im Verlauf des Raums festgehalten.
recording-share-new = Neuer Link (jetzt kopieren; er wird nicht noch einmal angezeigt)
recording-share-days = Gültig für (Tage)
recording-share-create = Link erstellen
recording-share-row = Erstellt von { $who }, gültig bis { $until }
recording-share-active = aktiv
recording-share-inactive = abgelaufen oder widerrufen
recording-share-revoke = Widerrufen
recording-delete = Aufzeichnung löschen
recording-delete-confirm = Ja, diese Aufzeichnung für alle löschen. Das lässt sich nicht rückgängig machen.
retention-title = Aufbewahrung der Aufzeichnungen
retention-days = Tage, die Aufzeichnungen dieses Raums aufbewahrt werden
retention-help = Leer lassen für die Voreinstellung ({ $days } Tage).
retention-save = Speichern
admin-recordings-title = Aufzeichnungen ohne Raum
admin-recordings-help = Aufzeichnungen von Besprechungen in Räumen, die niemand registriert hat. Sie gehen von selbst an ihren Raum, sobald er registriert wird; Sie können eine auch einem Raum zuordnen oder löschen.
admin-recordings-unassigned = Nicht zugeordnete Aufzeichnungen
admin-recordings-none = Keine.
admin-recordings-assign-to = Raum
admin-recordings-assign = Zuordnen
admin-recordings-problems = Sitzungen, die nicht übernommen werden konnten
admin-recordings-no-problems = Keine: jede beendete Jibri-Sitzung wurde übernommen.
mail-recording-subject = Eine Aufzeichnung von { $room } ist bereit
mail-recording-body = Eine neue Aufzeichnung Ihres Raums { $room } ist bereit. Hier können Sie sie ansehen oder herunterladen: { $link }
notice-recording-ready = Eine neue Aufzeichnung von { $room } ist bereit.
