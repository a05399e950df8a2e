set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_glove_hnsw.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'glove100-100k (n=100000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
29286.228 0.89515
29975.427 0.89515
23423.289 0.91420
21513.231 0.93890
14923.150 0.96195
11886.056 0.97400
6764.183 0.99115
3363.580 0.99700
EOD
$d1 << EOD
34688.624 0.89515
46368.037 0.89515
25946.107 0.91420
20652.250 0.93890
16520.042 0.96195
21374.896 0.97400
8985.907 0.99115
6100.948 0.99700
EOD
$d2 << EOD
12180.007 0.95165
11627.993 0.95165
10521.235 0.95165
11365.405 0.95165
10003.826 0.96130
8774.282 0.97345
4014.068 0.99085
2393.895 0.99680
EOD
$d3 << EOD
12690.116 0.95165
12439.096 0.95165
18469.026 0.95165
13341.068 0.95165
19443.903 0.96130
15584.851 0.97345
6390.680 0.99085
4781.932 0.99680
EOD
$d4 << EOD
29720.583 0.80090
25312.733 0.86875
19862.015 0.91205
14752.520 0.93735
10589.932 0.96205
7558.535 0.97340
4287.135 0.99145
2388.504 0.99715
EOD
$d5 << EOD
61056.456 0.80090
45624.148 0.86875
30006.615 0.91205
17346.101 0.93735
16363.083 0.96205
13875.287 0.97340
6773.710 0.99145
4173.732 0.99715
EOD
$d6 << EOD
5472.591 0.81430
4770.461 0.88740
4039.437 0.93040
2788.430 0.95255
2517.384 0.97260
1646.999 0.97980
1098.870 0.99170
532.270 0.99730
EOD
$d7 << EOD
10798.742 0.81430
8972.319 0.88740
7269.450 0.93040
6336.196 0.95255
4642.768 0.97260
3378.201 0.97980
1597.127 0.99170
902.847 0.99730
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnsw:m=16,efc=200/tq:bits=4/rerank=4 (2 thr)', \
     $d4 using 1:2 with linespoints lc 3 dt 1 pt 3 title 'hnswlib:m=16,efc=200', \
     $d5 using 1:2 with linespoints lc 3 dt 2 pt 3 title 'hnswlib:m=16,efc=200 (2 thr)', \
     $d6 using 1:2 with linespoints lc 4 dt 1 pt 4 title 'faiss:HNSW32,Flat', \
     $d7 using 1:2 with linespoints lc 4 dt 2 pt 4 title 'faiss:HNSW32,Flat (2 thr)'
