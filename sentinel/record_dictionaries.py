"""The complaint families' field orders and preset dictionaries for sentinel/raw_records.py.

Frozen: a stored record names its dictionary by id and its keys by their positions in its family's order, so
once rows are written with them neither may change; a better dictionary is added under a new id. The field orders
are the API's (configs/socrata_schemas.yaml as of migration 0027). The dictionaries are the common text of the
families' real sample values, chosen by benchmarks/pack_dictionaries.py (which prints these literals).
"""

from __future__ import annotations

FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("complaints", "HPD"): (
        "received_date", "problem_id", "complaint_id", "building_id", "borough", "house_number", "street_name",
        "post_code", "block", "lot", "apartment", "community_board", "unit_type", "space_type", "type",
        "major_category", "minor_category", "problem_code", "complaint_status", "complaint_status_date",
        "problem_status", "problem_status_date", "status_description", "problem_duplicate_flag",
        "complaint_anonymous_flag", "unique_key", "latitude", "longitude", "council_district", "census_tract",
        "bin", "bbl", "nta",
    ),
    ("complaints", "DOB"): (
        "complaint_number", "status", "date_entered", "house_number", "zip_code", "house_street", "bin",
        "community_board", "special_district", "complaint_category", "unit", "disposition_date",
        "disposition_code", "inspection_date", "dobrundate",
    ),
    ("complaints", "311"): (
        "unique_key", "created_date", "closed_date", "agency", "agency_name", "complaint_type", "descriptor",
        "location_type", "incident_zip", "incident_address", "street_name", "cross_street_1", "cross_street_2",
        "intersection_street_1", "intersection_street_2", "address_type", "city", "landmark", "facility_type",
        "status", "due_date", "resolution_description", "resolution_action_updated_date", "community_board", "bbl",
        "borough", "x_coordinate_state_plane", "y_coordinate_state_plane", "open_data_channel_type",
        "park_facility_name", "park_borough", "vehicle_type", "taxi_company_borough", "taxi_pick_up_location",
        "bridge_highway_name", "bridge_highway_direction", "road_ramp", "bridge_highway_segment", "latitude",
        "longitude", "descriptor_2", "council_district", "police_precinct", "location",
    ),
}  # fmt: skip

# Ids after sentinel/raw_records.py's own (0 none, 1 HPD violations).
DICTIONARIES: dict[int, bytes] = {
    2: (  # complaints HPD: 2283 bytes
    b'"received_date","problem_id","complaint_id","building_id","borough","house_number","street_name"'
    b',"post_code","block","lot","apartment","community_board","unit_type","space_type","type","major_'
    b'category","minor_category","problem_code","complaint_status","complaint_status_date","problem_st'
    b'atus","problem_status_date","status_description","problem_duplicate_flag","complaint_anonymous_f'
    b'lag","unique_key","latitude","longitude","council_district","census_tract","bin","bbl","nta","T0'
    b'0:00:00.000","row-,"15","1A","1D","1E","21","25","28","29","2B","2C","38","3C","3D","42","45","4'
    b'6","47","48","49","53","56","58","59","5A","66","68","245","2FL","333","351","604","1749","18","'
    b'1918","20","2041","2068","2169","2215","2350","3103","34","37","3B","4C","50","60","6A","7501","'
    b'MICE","10025","10026","10031","10033","10035","10451","10454","10456","10459","10463","10473","1'
    b'1207","11209","11225","11234","11237","49163","367","17","26","30","3A","41","1449","1554","BEDR'
    b'OOM","31","3FL","4B","541","543","63","AVENUE H","BROADWAY","10030","10040","10462","10468","112'
    b'10","11212","11226","11233","11691","15661","22-51","1FL","DOOR/WINDOW","ROACHES","10458","NO HO'
    b'T WATER","PLUMBING","STATEN ISLAND","11","14","91","BEAUMONT AVENUE","10032","DIX AVENUE","Ocean'
    b' Hill","BROKEN OR MISSING","BATHROOM","16","EMERGENCY","BATHTUB/SHOWER","ADAM C POWELL BOULEVARD'
    b'","GRAND CONCOURSE","HERKIMER STREET","10","BLDG","NON EMERGENCY","12","Far Rockaway-Bayswater",'
    b'"QUEENS","ENTIRE APARTMENT","APARTMENT","BRONX","BROOKLYN","MANHATTAN","The Department of Housin'
    b'g Preservation and Development inspected the following conditions. Violations were issued. Infor'
    b'mation about specific violations is available at www.nyc.gov/hpd","The Department of Housing Pre'
    b'servation and Development was not able to gain access to inspect the following conditions. The c'
    b'omplaint has been closed. If the condition still exists, please file a new complaint."," The Dep'
    b'artment of Housing Preservation and Development was not able to gain access to inspect the follo'
    b'wing conditions. The complaint has been closed. If the condition still exists, please file a new'
    b' complaint.","CLOSE","The Department of Housing Preservation and Development inspected the follo'
    b'wing conditions. No violations were issued. The complaint has been closed."'
    ),
    3: (  # complaints DOB: 2999 bytes
    b'"complaint_number","status","date_entered","house_number","zip_code","house_street","bin","commu'
    b'nity_board","special_district","complaint_category","unit","disposition_date","disposition_code"'
    b',"inspection_date","dobrundate","T00:00:00.000","row-,"EAST 93 STREET                  ","EDGECO'
    b'MBE AVENUE                ","HANOVER SQUARE                  ","W 8TH ST                        '
    b'","WEST 104 STREET                 ","WEST 14 STREET                  ","WEST 15 STREET         '
    b'         ","WEST 4 STREET                   ","WEST 43 STREET                  ","WEST 45 STREET'
    b'                  ","WEST 47 STREET                  ","WEST 54 STREET                  ","WEST '
    b'79 STREET                  ","WEST 92 STREET                  ","10031    ","10032    ","10034  '
    b'  ","ERT  ","109","10033    ","BLEECKER STREET                 ","E 16 ST                       '
    b'  ","EAST 10 STREET                  ","EAST 12 STREET                  ","EAST 35 STREET       '
    b'           ","EAST 40 STREET                  ","EAST 63 STREET                  ","EAST 81 STRE'
    b'ET                  ","READE STREET                    ","WEST 106 STREET                 ","WES'
    b'T 131 STREET                 ","WEST 145 STREET                 ","WEST 16 STREET               '
    b'   ","WEST 23 STREET                  ","WEST 29 STREET                  ","WEST 55 STREET      '
    b'            ","WEST 72 STREET                  ","WEST 81 STREET                  ","WEST BROADW'
    b'AY                   ","251         ","10018    ","10022    ","10010    ","I1","10 AVENUE       '
    b'                ","AMSTERDAM AVENUE                ","BARROW STREET                   ","EAST 84'
    b' STREET                  ","GRAND STREET                    ","WEST 3 STREET                   "'
    b',"WEST 46 STREET                  ","10027    ","110","CENTRAL PARK WEST               ","PARK A'
    b'VENUE                     ","ST MARKS PLACE                  ","THOMAS STREET                   '
    b'","THOMPSON STREET                 ","WEST 22 STREET                  ","WEST 25 STREET         '
    b'         ","112","10002    ","EAST 86 STREET                  ","WEST 86 STREET                 '
    b' ","         ","10017    ","10036    ","101","9 AVENUE                        ","ELIZABETH STREE'
    b'T                ","HUDSON STREET                   ","MADISON AVENUE                  ","SPRING'
    b' STREET                   ","WEST 57 STREET                  ","C2","5 AVENUE                   '
    b'     ","8 AVENUE                        ","10128    ","106","1 AVENUE                        ","'
    b'7 AVENUE                        ","10001    ","10023    ","10028    ","10009    ","10019    ","1'
    b'0016    ","10025    ","3 AVENUE                        ","103","WEST 8 STREET                   '
    b'","104","B1","10021    ","10014    ","10024    ","LEXINGTON AVENUE                ","10012    ",'
    b'"107","10013    ","108","105","6 AVENUE                        ","WEST END AVENUE               '
    b'  ","10003    ","2 AVENUE                        ","A1","10011    ","102","BROADWAY             '
    b'           ","I2","   "'
    ),
    4: (  # complaints 311: 2998 bytes
    b'"unique_key","created_date","closed_date","agency","agency_name","complaint_type","descriptor","'
    b'location_type","incident_zip","incident_address","street_name","cross_street_1","cross_street_2"'
    b',"intersection_street_1","intersection_street_2","address_type","city","landmark","facility_type'
    b'","status","due_date","resolution_description","resolution_action_updated_date","community_board'
    b'","bbl","borough","x_coordinate_state_plane","y_coordinate_state_plane","open_data_channel_type"'
    b',"park_facility_name","park_borough","vehicle_type","taxi_company_borough","taxi_pick_up_locatio'
    b'n","bridge_highway_name","bridge_highway_direction","road_ramp","bridge_highway_segment","latitu'
    b'de","longitude","descriptor_2","council_district","police_precinct","location","T00:00:00.000","'
    b'row-,"HPD","ADDRESS","HPD attempted to conduct an inspection in response to this complaint, but '
    b'was unable to complete the inspection. Please submit a new service request with 311 if the condi'
    b'tion still exists. For more information on the reason why HPD was unable to inspect, contact HPD'
    b' at the Tenant Information Messaging Service at 212-863-4951.","Unspecified","HPD conducted an i'
    b'nspection of this complaint. The conditions observed by the inspector did not violate the housin'
    b'g laws enforced by HPD. The complaint has been closed.","RESIDENTIAL BUILDING","The Department o'
    b'f Housing Preservation and Development was not able to gain access to your apartment or others i'
    b'n the building to inspect for a lack of heat or hot water. The complaint has been closed. If the'
    b' condition still exists, please file a new complaint.","Department of Housing Preservation and D'
    b'evelopment","HPD inspected this condition so the complaint has been closed. Violations were issu'
    b'ed. The law provides the property owner time to correct the condition(s).  Violation description'
    b's and the dates for the property owner to correct any violations are available at HPDONLINE.  If'
    b' the owner has not corrected the condition by the date provided, you may wish to bring a case in'
    b' housing court seeking the correction of these conditions.To find out more about how to start a '
    b'housing court case, visit HPD\'s w","The following complaint conditions are still open. HPD has a'
    b'lready attempted to notify the property owner that the condition exists; the tenant should provi'
    b'de access for the owner to make the repair.  HPD may attempt to contact the tenant by phone to v'
    b'erify the correction of the condition or an HPD Inspector may attempt to conduct an inspection."'
    b',"This complaint is a duplicate of a building-wide condition already reported by another tenant.'
    b'  The original complaint is still open, and HPD may only need to confirm that the condition exis'
    b'ts by inspecting one apartment.  If we cannot contact the tenant from the original complaint or '
    b'get access to that apartment, HPD may attempt to contact the person who filed this complaint to '
    b'verify the correction of the condition or may conduct an inspection of your unit. You can check '
    b'HPDONLINE to see if a"'
    ),
}  # fmt: skip
DICTIONARY_OF_FAMILY: dict[tuple[str, str], int] = {
    ("complaints", "HPD"): 2,
    ("complaints", "DOB"): 3,
    ("complaints", "311"): 4,
}
